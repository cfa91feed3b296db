import { randomUUID } from 'node:crypto';
import type { RolloutPlan, RolloutRequest, RolloutResult } from '../../common/rollout';
import { startRollout } from '../../server/rolloutClient';
import { progressQuery } from '../../workflows/definitions';
import { uniqueTenant } from '../support/env';
import { type FaultRig, startFaultRig } from '../support/faultRig';
import { type FleetMember, startInstance } from '../support/fleet';

/**
 * Store faults on real sockets: the worker's DynamoDB and moto (Parameter Store, Cloud Map) links go
 * through Toxiproxy, which slows them, resets them or cuts them during a rollout. Each test asserts the
 * rollout's end state, every instance's held version, the store's live version, and that the rollout
 * wrote its version once.
 */
let rig: FaultRig;
const instances: FleetMember[] = [];

beforeAll(async () => {
  rig = await startFaultRig();
}, 120_000);

afterAll(async () => {
  await Promise.all(instances.map((instance) => instance.client.stop()));
  await rig?.stop();
});

const plan = (overrides: Partial<RolloutPlan> = {}): RolloutPlan => ({
  strategy: { kind: 'explicit', waves: ['100%'] },
  bakeSeconds: 0,
  approval: 'none',
  maxFailures: 0,
  push: { timeoutMs: 2000, attempts: 2, concurrency: 8 },
  ...overrides,
});

/** A key live at version 1 and two instances of a fresh service holding it, reached directly. */
async function setUp(key: string) {
  const tenantId = uniqueTenant('store');
  const service = `orders-${randomUUID().slice(0, 6)}`;
  const address = { tenantId, key, ...(key.startsWith('param_config_') ? { service } : {}) };
  await rig.server.store.put(address, '{"v":1}', { expectedVersion: 0, makeLive: true });
  const fleet: FleetMember[] = [];
  for (let i = 0; i < 2; i += 1) {
    const member = await startInstance({
      server: rig.server,
      clients: rig.clients,
      service,
      tenancy: tenantId,
      preload: [address],
    });
    instances.push(member);
    fleet.push(member);
  }
  const request = (overrides: Partial<RolloutRequest> = {}): RolloutRequest => ({
    tenantId,
    key,
    ...(address.service ? { service } : {}),
    change: { kind: 'set', value: '{"v":2}' },
    targetServices: [service],
    plan: plan(),
    actor: 'release-manager@store',
    ...overrides,
  });
  const held = () =>
    Promise.all(
      fleet.map(async (member) => (await member.client.get(tenantId, key, address.service))?.version),
    );
  return { address, request, held };
}

/** The version a rollout ended on: every instance holds it, it is live, and it was written once. */
async function expectConsistent(
  result: RolloutResult,
  { address, held }: Awaited<ReturnType<typeof setUp>>,
  runId: string,
) {
  const end = result.state === 'SUCCEEDED' ? 2 : 1;
  expect(await held()).toEqual([end, end]);
  expect(await rig.server.store.getLive(address)).toMatchObject({ version: end, value: `{"v":${end}}` });
  const versions = await rig.versions(address);
  expect(versions.map((v) => v.version)).toEqual([2, 1]);
  expect(versions.filter((v) => v.writeId === `rollout/${runId}`)).toHaveLength(1);
}

test('every DynamoDB call 2 s slower: the rollout succeeds, written once, live and held everywhere', async () => {
  const world = await setUp('tenant_config_slowStore');
  const removeLatency = await rig.dynamodb.add({
    type: 'latency',
    stream: 'downstream',
    name: 'slow-store',
    toxicity: 1,
    attributes: { latency: 2000, jitter: 0 },
  });
  try {
    const handle = await startRollout(rig.temporal, world.request(), rig.taskQueue);
    const result = await handle.result();
    expect(result).toMatchObject({ state: 'SUCCEEDED', liveVersion: 2, updatedInstances: 2 });
    await expectConsistent(result, world, handle.firstExecutionRunId);
  } finally {
    await removeLatency();
  }
});

test.each(['tenant_config_resetStore', 'param_config_resetStore'])(
  'responses of the store reset during the write and the promotion (%s): clean end, written once',
  async (key) => {
    const world = await setUp(key);
    // Half the store's connections lose their response: the request was applied, the answer is gone,
    // which is what makes a retried write dangerous.
    const link = key.startsWith('param_config_') ? rig.moto : rig.dynamodb;
    const removeResets = await link.add({
      type: 'reset_peer',
      stream: 'downstream',
      name: 'lost-responses',
      toxicity: 0.5,
      attributes: { timeout: 0 },
    });
    try {
      const handle = await startRollout(rig.temporal, world.request(), rig.taskQueue);
      const result = await handle.result();
      expect(['SUCCEEDED', 'ROLLED_BACK']).toContain(result.state);
      await removeResets();
      await expectConsistent(result, world, handle.firstExecutionRunId);
    } finally {
      await removeResets().catch(() => undefined);
    }
  },
);

test('DynamoDB down for 20 s during the bake: the promotion waits it out and the rollout finishes', async () => {
  const world = await setUp('tenant_config_storeOutage');
  const handle = await startRollout(
    rig.temporal,
    world.request({ plan: plan({ bakeSeconds: 5 }) }),
    rig.taskQueue,
  );
  for (;;) {
    const { state } = await handle.query(progressQuery);
    if (state === 'BAKING') break;
    expect(['PREPARING', 'ROLLING_OUT']).toContain(state);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await rig.dynamodb.setEnabled(false);
  try {
    await new Promise((resolve) => setTimeout(resolve, 20_000));
    expect((await handle.query(progressQuery)).state).toBe('PROMOTING');
  } finally {
    await rig.dynamodb.setEnabled(true);
  }
  const result = await handle.result();
  expect(result).toMatchObject({ state: 'SUCCEEDED', liveVersion: 2, updatedInstances: 2 });
  await expectConsistent(result, world, handle.firstExecutionRunId);
});
