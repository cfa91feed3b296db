import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import type { RolloutPlan, RolloutRequest } from '../../common/rollout';
import { workerDataConverter } from '../../server/payloadEncryption/workerDataConverter';
import { startRollout } from '../../rolloutClient';
import { abortUpdate, progressQuery } from '../../workflows/definitions';
import { FakeFleet } from '../support/fakeFleet';
import { expectReplays, recordedHistory, scheduled } from '../support/recordedHistories';
import { testCodec, useTimeSkipping } from '../support/timeSkipping';

/**
 * The alarm gate's logic on the time-skipping test server, its CloudWatch reads faked at the activity
 * boundary (test/faults/alarmGate.test.ts drives real alarms on moto): an alarm that fires in a wave
 * rolls back without waiting the hour-long bake out, one that went off after the watch's last poll is
 * caught by the bake's last look, CloudWatch unreachable fails closed, a quiet gate passes, abort still
 * works at once, and a plan without alarms issues exactly what it did before the gate.
 */
const world = useTimeSkipping();
const HISTORY = 'rollout-alarm-gate.json';

const gated = (overrides: Partial<RolloutPlan> = {}): RolloutPlan => ({
  strategy: { kind: 'explicit', waves: [1, '100%'] },
  bakeSeconds: 3600,
  approval: 'none',
  maxFailures: 0,
  alarms: [{ name: 'errors' }, { prefix: 'orders/' }],
  ...overrides,
});

const request = (plan: RolloutPlan): RolloutRequest => ({
  tenantId: `t-${randomUUID().slice(0, 8)}`,
  key: 'tenant_config_flags',
  change: { kind: 'set', value: '{"beta":true}' },
  targetServices: ['orders'],
  plan,
  actor: 'alice',
});

async function withWorker<T>(fleet: FakeFleet, run: (taskQueue: string) => Promise<T>): Promise<T> {
  const taskQueue = `alarm-gate-${randomUUID()}`;
  const worker = await Worker.create({
    connection: world.env.nativeConnection,
    taskQueue,
    workflowBundle: world.bundle,
    activities: fleet.activities(),
    dataConverter: workerDataConverter(testCodec),
  });
  return worker.runUntil(run(taskQueue));
}

const runToEnd = (fleet: FakeFleet, rollout: RolloutRequest) =>
  withWorker(fleet, async (taskQueue) => {
    const handle = await startRollout(world.env.client, rollout, taskQueue);
    return { result: await handle.result(), history: await handle.fetchHistory() };
  });

test('an alarm firing during the canary rolls back at once: the hour-long bake is not waited out, the last wave never pushed', async () => {
  const fleet = new FakeFleet(4, { liveVersion: 1, alarm: { firesInWave: 1 } });
  const { result, history } = await runToEnd(fleet, request(gated()));
  expect(result).toMatchObject({ state: 'ROLLED_BACK', liveVersion: 1, candidateVersion: 2 });
  expect(result.reason).toBe('alarm gate, wave 1: alarm config-rollouts/t/errors is in ALARM: errors up');
  // The bake never ran out: the trip ended it, or came before it began (a watch may answer before the
  // push does).
  expect(history.events?.some((event) => event.timerFiredEventAttributes)).toBe(false);
  // The canary got the candidate and then the revert; nobody else got anything.
  expect(fleet.pushes.map(({ refs, version }) => [refs.length, version])).toEqual([
    [1, 2],
    [1, 1],
  ]);
  expect(fleet.heldVersions()).toEqual([1, 1, 1, 1]);
  expect(fleet.promoted).toEqual([]);
  expect(scheduled(history).filter((name) => name === 'watchAlarms')).toHaveLength(1);
});

test('an alarm that went off and back after the last poll is caught by the last look at the end of the bake', async () => {
  const fleet = new FakeFleet(4, { liveVersion: 1, alarm: 'fires-at-look' });
  const { result } = await runToEnd(fleet, request(gated({ bakeSeconds: 0 })));
  expect(result.state).toBe('ROLLED_BACK');
  expect(result.reason).toMatch(
    /^alarm gate, wave 1: alarm config-rollouts\/t\/errors went to ALARM at .* and is OK again$/,
  );
  expect(fleet.heldVersions()).toEqual([1, 1, 1, 1]);
  expect(fleet.promoted).toEqual([]);
  expect(fleet.alarmLooks).toHaveLength(1);
});

test('CloudWatch unreachable past the watch retries fails closed: rolled back, the reason says so', async () => {
  const fleet = new FakeFleet(4, { liveVersion: 1, alarm: 'unreachable' });
  const { result } = await runToEnd(fleet, request(gated()));
  expect(result.state).toBe('ROLLED_BACK');
  expect(result.reason).toMatch(
    /^alarm gate, wave 1: CloudWatch could not be read \(.*ECONNREFUSED.*\), so the rollout fails closed$/,
  );
  expect(fleet.heldVersions()).toEqual([1, 1, 1, 1]);
  expect(fleet.promoted).toEqual([]);
}, 60_000);

test('a quiet gate passes: one watch and one last look per wave, each from its wave start, then promoted', async () => {
  const fleet = new FakeFleet(4, { liveVersion: 1 });
  const { result, history } = await runToEnd(fleet, request(gated({ bakeSeconds: 0 })));
  expect(result).toMatchObject({ state: 'SUCCEEDED', liveVersion: 2, updatedInstances: 4 });
  expect(fleet.heldVersions()).toEqual([2, 2, 2, 2]);
  expect(fleet.alarmWatches).toHaveLength(2);
  expect(fleet.alarmLooks).toEqual(fleet.alarmWatches);
  expect(Date.parse(fleet.alarmWatches[1]!)).toBeGreaterThanOrEqual(Date.parse(fleet.alarmWatches[0]!));
  expect(scheduled(history).filter((name) => name.endsWith('Alarms'))).toHaveLength(4);
});

test('abort during a gated bake rolls back at once, without a last look', async () => {
  const fleet = new FakeFleet(4, { liveVersion: 1 });
  const result = await withWorker(fleet, async (taskQueue) => {
    const handle = await startRollout(world.env.client, request(gated()), taskQueue);
    for (let i = 0; (await handle.query(progressQuery)).state !== 'BAKING'; i += 1) {
      expect(i).toBeLessThan(400);
      await sleep(50);
    }
    await handle.executeUpdate(abortUpdate, { args: [{ actor: 'bob', reason: 'pager went off' }] });
    return handle.result();
  });
  expect(result).toMatchObject({ state: 'ROLLED_BACK', reason: 'aborted by bob: pager went off' });
  expect(fleet.heldVersions()).toEqual([1, 1, 1, 1]);
  expect(fleet.alarmLooks).toEqual([]);
});

test('a plan naming no alarm issues no alarm activity and no marker of the gate: its commands are as before', async () => {
  const fleet = new FakeFleet(4, { liveVersion: 1 });
  const { result, history } = await runToEnd(fleet, request(gated({ alarms: undefined, bakeSeconds: 0 })));
  expect(result.state).toBe('SUCCEEDED');
  expect(scheduled(history).filter((name) => name.endsWith('Alarms'))).toEqual([]);
  const patches = (history.events ?? [])
    .filter((event) => event.markerRecordedEventAttributes?.markerName === 'core_patch')
    .flatMap((event) => Object.values(event.markerRecordedEventAttributes?.details ?? {}))
    .flatMap((details) => details.payloads ?? [])
    .map((payload) => Buffer.from(payload.data ?? []).toString());
  // The other patches' markers are there; the gate's is not.
  expect(patches.some((patch) => patch.includes('roll-back-on-any-failure'))).toBe(true);
  expect(patches.some((patch) => patch.includes('alarm-gate'))).toBe(false);
});

test('a rollout its alarm gate rolled back replays from its recorded history', async () => {
  // Recorded from the first test above, its sealed payloads opened with the local key (stored in the
  // clear): the canary's watch tripped mid-bake, the revert was pushed, ROLLED_BACK.
  const recorded = recordedHistory(HISTORY);
  expect(scheduled(recorded)).toContain('watchAlarms');
  await expectReplays(world.bundle, recorded);
});
