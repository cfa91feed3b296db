import { Worker } from '@temporalio/worker';
import type { temporal } from '@temporalio/proto';
import { randomUUID } from 'node:crypto';
import type { RolloutPlan, RolloutRequest } from '../../common/rollout';
import { workerDataConverter } from '../../server/payloadEncryption/workerDataConverter';
import { startRollout } from '../../rolloutClient';
import { progressQuery } from '../../workflows/definitions';
import { FakeFleet } from '../support/fakeFleet';
import { expectReplays, recordedHistory, scheduled } from '../support/recordedHistories';
import { testCodec, useTimeSkipping } from '../support/timeSkipping';

/**
 * The canary analysis gate's logic on the time-skipping test server: bakes and their extensions take no
 * wall time. The instances' recorded outcomes come from the fake fleet; the real SDK's counters, the
 * Health RPC and the real activities are tried on the stack in test/faults/canaryAnalysis.test.ts.
 */
const server = useTimeSkipping();

const plan = (overrides: Partial<RolloutPlan> = {}): RolloutPlan => ({
  strategy: { kind: 'explicit', waves: [2, '50%', '100%'] },
  bakeSeconds: 300,
  approval: 'none',
  maxFailures: 0,
  canary: {},
  ...overrides,
});

/** A rollout of a new value of one key to the fake fleet, under `plan`. */
const rolloutUnder = (rolloutPlan: RolloutPlan): RolloutRequest => ({
  tenantId: `t-${randomUUID().slice(0, 8)}`,
  key: 'tenant_config_canaryGate',
  change: { kind: 'set', value: '{"canary":true}' },
  targetServices: ['orders'],
  plan: rolloutPlan,
  actor: 'carol',
});

async function run(fleet: FakeFleet, rollout: RolloutRequest) {
  const taskQueue = `rollouts-${randomUUID()}`;
  const worker = await Worker.create({
    connection: server.env.nativeConnection,
    taskQueue,
    workflowBundle: server.bundle,
    activities: fleet.activities(),
    dataConverter: workerDataConverter(testCodec),
  });
  return worker.runUntil(async () => {
    const handle = await startRollout(server.env.client, rollout, taskQueue);
    const result = await handle.result();
    return { result, progress: await handle.query(progressQuery), history: await handle.fetchHistory() };
  });
}

const timers = (history: temporal.api.history.v1.IHistory) =>
  (history.events ?? []).flatMap((event) =>
    event.timerStartedEventAttributes
      ? [Number(event.timerStartedEventAttributes.startToFireTimeout?.seconds)]
      : [],
  );
/** The patches a run recorded, as the SDK lists them in the plain search attribute TemporalChangeVersion. */
const patches = (history: temporal.api.history.v1.IHistory) =>
  (history.events ?? []).flatMap((event) => {
    const field =
      event.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields
        ?.TemporalChangeVersion;
    return field?.data ? (JSON.parse(Buffer.from(field.data).toString('utf8')) as string[]) : [];
  });

test('candidates failing more often than live roll back after the canary bake; the reason gives both ratios and samples', async () => {
  const fleet = new FakeFleet(10, {
    liveVersion: 1,
    recorded: { perSnapshot: 100, candidateErrorRatio: 0.1, liveErrorRatio: 0.01 },
  });
  const { result, progress, history } = await run(fleet, rolloutUnder(plan()));
  expect(result).toMatchObject({ state: 'ROLLED_BACK', liveVersion: 1 });
  expect(patches(history)).toContain('canary-analysis');
  // 2 candidates recorded 100 each over the window (20 errors), the 8 on live 800 (8 errors).
  expect(result.reason).toMatch(
    /^canary analysis at wave 1: regressed: candidate v2 error ratio 10\.00% \(20\/200 requests, 2 instance\(s\)\) vs live v1 1\.00% \(8\/800 requests, 8 instance\(s\)\), z = \d+\.\d\d > 1\.645/,
  );
  expect(progress.waves[0]?.canary).toMatchObject({
    verdict: 'regressed',
    candidate: { instances: 2, requests: 200, errors: 20 },
    baseline: { instances: 8, requests: 800, errors: 8 },
  });
  expect(fleet.promoted).toEqual([]);
  expect(fleet.heldVersions()).toEqual(Array(10).fill(1));
});

test('candidates failing as often as live pass every wave but the last, which gets the health gate only', async () => {
  const fleet = new FakeFleet(10, {
    liveVersion: 1,
    recorded: { perSnapshot: 100, candidateErrorRatio: 0.02, liveErrorRatio: 0.02 },
  });
  const { result, progress, history } = await run(fleet, rolloutUnder(plan()));
  expect(result).toMatchObject({ state: 'SUCCEEDED', liveVersion: 2, updatedInstances: 10 });
  expect(progress.waves.map((wave) => wave.canary?.verdict)).toEqual(['passed', 'passed', 'skipped']);
  expect(progress.waves[1]?.canary).toMatchObject({
    candidate: { instances: 5, requests: 500, errors: 10 },
    baseline: { instances: 5, requests: 500, errors: 10 },
    z: 0,
  });
  // Two snapshots (candidates and live) when each of the first two waves' bakes starts and ends.
  // (Both of a snapshot's activities are scheduled at once, and run in either order.)
  expect(fleet.outcomeSnapshots.map((refs) => refs.length).sort()).toEqual([2, 2, 5, 5, 5, 5, 8, 8]);
  expect(timers(history)).toEqual([300, 300, 300]);
});

test('too few samples extend the bake in steps up to the bound, then fail closed', async () => {
  const fleet = new FakeFleet(4, {
    liveVersion: 1,
    recorded: { perSnapshot: 10, candidateErrorRatio: 0, liveErrorRatio: 0 },
  });
  const { result, progress, history } = await run(
    fleet,
    rolloutUnder(plan({ bakeSeconds: 60, canary: { minSamples: 100, maxExtraBakeSeconds: 150 } })),
  );
  expect(result).toMatchObject({ state: 'ROLLED_BACK', liveVersion: 1 });
  expect(result.reason).toMatch(
    /^canary analysis at wave 1: too few samples \(100 requests per group needed\), and the plan fails closed: insufficient: .*bake extended by 150 s/,
  );
  expect(progress.waves[0]?.canary).toMatchObject({ verdict: 'insufficient', extraBakeSeconds: 150 });
  // The bake, then steps as long as the bake until the bound.
  expect(timers(history)).toEqual([60, 60, 60, 30]);
  expect(fleet.heldVersions()).toEqual(Array(4).fill(1));
  expect(fleet.promoted).toEqual([]);
});

test('too few samples pass when the plan says onInsufficientSamples: pass', async () => {
  const fleet = new FakeFleet(4, {
    liveVersion: 1,
    recorded: { perSnapshot: 1, candidateErrorRatio: 1, liveErrorRatio: 0 },
  });
  const { result, progress } = await run(
    fleet,
    rolloutUnder(plan({ bakeSeconds: 0, canary: { maxExtraBakeSeconds: 0, onInsufficientSamples: 'pass' } })),
  );
  expect(result).toMatchObject({ state: 'SUCCEEDED', liveVersion: 2 });
  expect(progress.waves[0]?.canary?.verdict).toBe('insufficient');
});

test('a single wave leaves nothing on live to compare with: no extension, the plan decides at once', async () => {
  const fleet = new FakeFleet(3, {
    liveVersion: 1,
    recorded: { perSnapshot: 1000, candidateErrorRatio: 0, liveErrorRatio: 0 },
  });
  const { result, history } = await run(
    fleet,
    rolloutUnder(plan({ strategy: { kind: 'explicit', waves: ['100%'] }, bakeSeconds: 30 })),
  );
  expect(result.state).toBe('ROLLED_BACK');
  expect(result.reason).toMatch(/too few samples .*no instance stays on live to compare with/);
  expect(timers(history)).toEqual([30]);
});

test('a snapshot activity that fails for good fails the gate closed and rolls back', async () => {
  const fleet = new FakeFleet(4, {
    liveVersion: 1,
    recorded: { perSnapshot: 100, candidateErrorRatio: 0, liveErrorRatio: 0, sampleFails: true },
  });
  const { result } = await run(fleet, rolloutUnder(plan({ bakeSeconds: 10 })));
  expect(result).toMatchObject({ state: 'ROLLED_BACK', liveVersion: 1 });
  expect(result.reason).toMatch(/canary analysis at wave 1 could not ask the instances .*fails closed/);
  expect(fleet.heldVersions()).toEqual(Array(4).fill(1));
});

test('a plan without the gate issues no snapshot and records no canary marker', async () => {
  const fleet = new FakeFleet(4, {
    liveVersion: 1,
    recorded: { perSnapshot: 100, candidateErrorRatio: 1, liveErrorRatio: 0 },
  });
  const withoutCanary = plan({ bakeSeconds: 10 });
  delete (withoutCanary as { canary?: unknown }).canary;
  const { result, progress, history } = await run(fleet, rolloutUnder(withoutCanary));
  expect(result.state).toBe('SUCCEEDED');
  expect(scheduled(history)).not.toContain('sampleOutcomes');
  expect(patches(history)).toContain('sharded-fleet');
  expect(patches(history)).not.toContain('canary-analysis');
  expect(progress.waves.every((wave) => wave.canary === undefined)).toBe(true);
});

test('a rollout rolled back by the canary gate replays from its recorded history', async () => {
  // Recorded in the clear from the first test above (10 instances, waves [2, 50%, 100%], the canary's
  // 10% error ratio against live's 1%, ROLLED_BACK after the first bake).
  const recorded = recordedHistory('rollout-canary-analysis.json');
  expect(scheduled(recorded).filter((name) => name === 'sampleOutcomes')).toHaveLength(4);
  await expectReplays(server.bundle, recorded);
});
