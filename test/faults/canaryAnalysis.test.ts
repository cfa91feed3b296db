import type { RolloutPlan, RolloutRequest } from '../../common/rollout';
import { startRollout } from '../../rolloutClient';
import type { OutcomeCounters } from '../../sdk/outcomeCounters';
import { progressQuery } from '../../workflows/definitions';
import { stackClients, uniqueTenant } from '../support/env';
import { recordedTraffic, startFleetHolding } from '../support/canaryFleet';
import type { FleetMember } from '../support/fleet';
import { startTestServer, type TestServer } from '../support/server';

/**
 * The canary gate on the real stack: real SDK instances whose application records outcomes with
 * `record` while a real worker rolls out, the counts asked over Health by the real activities. Each
 * test asserts the rollout's end, every instance's held version, the store's live version and that
 * the candidate was written once.
 */
const KEY = 'tenant_config_canary';
const clients = stackClients();
let server: TestServer;
const started: FleetMember[] = [];

beforeAll(async () => {
  server = await startTestServer({ rollouts: true });
}, 120_000);

afterAll(async () => {
  await Promise.all(started.map((member) => member.client.stop()));
  await server?.stop();
});

const plan = (canary: RolloutPlan['canary'] = {}): RolloutPlan => ({
  strategy: { kind: 'explicit', waves: [2, '100%'] },
  bakeSeconds: 2,
  approval: 'none',
  maxFailures: 0,
  push: { timeoutMs: 1000, attempts: 2, concurrency: 8 },
  canary: { minSamples: 100, maxExtraBakeSeconds: 20, ...canary },
});

/** Four instances holding v1 of the tenants' key (silos of `tenants[0]`, or pooled), and its rollout. */
async function setUp(tenancy: 'silo' | 'pool', tenants = [uniqueTenant('canary')]) {
  const tenantId = tenants[0]!;
  const world = await startFleetHolding({ server, clients, key: KEY, tenants, tenancy, size: 4 });
  started.push(...world.fleet);
  const request = (overrides: Partial<RolloutRequest> = {}): RolloutRequest => ({
    tenantId,
    key: KEY,
    change: { kind: 'set', value: '{"v":2}' },
    targetServices: [world.service],
    plan: plan(),
    actor: 'release-manager@canary',
    ...overrides,
  });
  /** Every instance and the store's live version on `version`, and the candidate written once. */
  const expectAllOn = async (version: number) => {
    expect(await world.held()).toEqual(Array(4).fill(version));
    expect(await server.store.getLive({ tenantId, key: KEY })).toMatchObject({ version });
    expect((await server.store.history({ tenantId, key: KEY })).map((entry) => entry.version)).toEqual([
      2, 1,
    ]);
  };
  return { ...world, tenantId, request, expectAllOn };
}

async function run(rollout: RolloutRequest) {
  const handle = await startRollout(server.temporal!, rollout, server.taskQueue);
  const result = await handle.result();
  return { result, progress: await handle.query(progressQuery) };
}

test('candidates recording a higher error ratio than the instances on live roll back: every instance on v1, live unchanged', async () => {
  const { tenantId, fleet, request, expectAllOn } = await setUp('silo');
  const stop = recordedTraffic(fleet, tenantId, KEY, (version) => (version === 2 ? 0.2 : 0.02));
  try {
    const { result, progress } = await run(request());
    expect(result).toMatchObject({ state: 'ROLLED_BACK', liveVersion: 1, revertedInstances: 2 });
    expect(result.reason).toMatch(
      /^canary analysis at wave 1: regressed: candidate v2 error ratio \d+\.\d\d% \(\d+\/\d+ requests, 2 instance\(s\)\) vs live v1 \d+\.\d\d% \(\d+\/\d+ requests, 2 instance\(s\)\), z = /,
    );
    expect(progress.waves[0]?.canary?.verdict).toBe('regressed');
  } finally {
    stop();
  }
  await expectAllOn(1);
  expect(await server.store.getLive({ tenantId, key: KEY })).toMatchObject({ value: '{"v":1}' });
}, 60_000);

test('candidates recording the same error ratio as live pass the canary and the rollout completes', async () => {
  const { tenantId, fleet, request, expectAllOn } = await setUp('silo');
  const stop = recordedTraffic(fleet, tenantId, KEY, () => 0.02);
  try {
    const { result, progress } = await run(request());
    expect(result).toMatchObject({ state: 'SUCCEEDED', liveVersion: 2, updatedInstances: 4 });
    expect(progress.waves.map((wave) => wave.canary?.verdict)).toEqual(['passed', 'skipped']);
    expect(progress.waves[0]?.canary?.candidate.requests).toBeGreaterThanOrEqual(100);
  } finally {
    stop();
  }
  await expectAllOn(2);
}, 60_000);

test('with no traffic, too few samples extend the bake to its bound and fail closed; the plan may say pass', async () => {
  const closed = await setUp('silo');
  const open = await setUp('silo');
  const [failed, passed] = await Promise.all([
    run(closed.request({ plan: plan({ maxExtraBakeSeconds: 5 }) })),
    run(open.request({ plan: plan({ maxExtraBakeSeconds: 5, onInsufficientSamples: 'pass' }) })),
  ]);
  expect(failed.result).toMatchObject({ state: 'ROLLED_BACK', liveVersion: 1 });
  expect(failed.result.reason).toMatch(
    /too few samples \(100 requests per group needed\), and the plan fails closed/,
  );
  expect(failed.progress.waves[0]?.canary).toMatchObject({ verdict: 'insufficient', extraBakeSeconds: 5 });
  await closed.expectAllOn(1);

  expect(passed.result).toMatchObject({ state: 'SUCCEEDED', liveVersion: 2 });
  expect(passed.progress.waves[0]?.canary?.verdict).toBe('insufficient');
  await open.expectAllOn(2);
}, 60_000);

test("on pooled instances, another tenant's errors recorded for the same key never enter this tenant's analysis", async () => {
  const [acme, globex] = [uniqueTenant('acme'), uniqueTenant('globex')];
  const { fleet, request, held, expectAllOn } = await setUp('pool', [acme, globex]);
  // Acme's own traffic is as healthy on the candidate as on live; globex's fails on every instance that
  // holds acme's candidate: counted by key alone, acme's candidates would look broken.
  const acmeHeld = new Map<FleetMember, number>();
  const stopAcme = recordedTraffic(fleet, acme, KEY, () => 0.01);
  const watch = setInterval(() => {
    for (const member of fleet)
      void member.client.get(acme, KEY).then((value) => acmeHeld.set(member, value?.version ?? 0));
  }, 20);
  const stopGlobex = setInterval(() => {
    for (const member of fleet) {
      const failing = acmeHeld.get(member) === 2;
      for (let i = 0; i < 20; i += 1) member.client.record(globex, KEY, failing ? 'error' : 'ok');
    }
  }, 20);
  try {
    const { result, progress } = await run(request());
    expect(result).toMatchObject({ state: 'SUCCEEDED', liveVersion: 2 });
    expect(progress.waves[0]?.canary?.verdict).toBe('passed');
  } finally {
    stopAcme();
    clearInterval(watch);
    clearInterval(stopGlobex);
  }
  await expectAllOn(2);
  expect(await held(globex)).toEqual([1, 1, 1, 1]);
  expect(await server.store.getLive({ tenantId: globex, key: KEY })).toMatchObject({ version: 1 });
}, 60_000);

test('an instance answering absurd counters is left out, and cannot hide the regression of the others', async () => {
  const { tenantId, fleet, request, expectAllOn } = await setUp('silo');
  // The first canary asked about the candidate lies from then on: a billion more calls and a thousand
  // fewer errors at each answer, which taken as they come would turn the canaries' error ratio negative
  // and pass them. Its counters, served over the real Health RPC, are replaced; nothing else changes.
  let liar: FleetMember | undefined;
  let answers = 0;
  for (const member of fleet) {
    const counters = (member.client as unknown as { outcomes: OutcomeCounters }).outcomes;
    const honest = counters.countsFor.bind(counters);
    counters.countsFor = (address, version) => {
      if (version === 2) liar ??= member;
      if (liar !== member || version !== 2) return honest(address, version);
      answers += 1;
      return { version, requests: answers * 1e9, errors: -1000 * answers };
    };
  }
  const stop = recordedTraffic(fleet, tenantId, KEY, (version) => (version === 2 ? 0.3 : 0.01));
  try {
    const { result, progress } = await run(request());
    expect(result).toMatchObject({ state: 'ROLLED_BACK', liveVersion: 1 });
    expect(result.reason).toMatch(/regressed: candidate v2 error ratio .*1 instance\(s\) left out/);
    expect(progress.waves[0]?.canary).toMatchObject({ verdict: 'regressed', untrusted: 1 });
  } finally {
    stop();
  }
  await expectAllOn(1);
}, 60_000);
