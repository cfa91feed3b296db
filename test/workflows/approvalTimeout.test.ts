import { Worker } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { RolloutPlan, RolloutRequest } from '../../common/rollout';
import { workerDataConverter } from '../../server/payloadEncryption/workerDataConverter';
import { decodeHistoryEvents } from '../../server/rollouts/decodeHistory';
import { startRollout } from '../../rolloutClient';
import { approveUpdate, progressQuery } from '../../workflows/definitions';
import { FakeFleet } from '../support/fakeFleet';
import { expectReplays, recordedHistory } from '../support/recordedHistories';
import { waitForState } from '../support/rolloutState';
import { testCodec, useTimeSkipping } from '../support/timeSkipping';

/**
 * Approvals that expire (patch approval-timeout), on Temporal's time-skipping test server: a canary left
 * unapproved past plan.approvalTimeoutSeconds rolls back on its own, with the reason in the outcome, the
 * audit and the result; one approved in time goes on. Activities faked at the activity boundary.
 */
const time = useTimeSkipping();
const HISTORY = 'rollout-approval-timed-out.json';

const plan = (overrides: Partial<RolloutPlan> = {}): RolloutPlan => ({
  strategy: { kind: 'explicit', waves: [1, '50%', '100%'] },
  bakeSeconds: 0,
  approval: 'after-first-wave',
  maxFailures: 0,
  ...overrides,
});

const request = (overrides: Partial<RolloutPlan> = {}): RolloutRequest => ({
  tenantId: `t-${randomUUID().slice(0, 8)}`,
  key: 'tenant_config_flags',
  change: { kind: 'set', value: '{"beta":true}' },
  targetServices: ['orders'],
  plan: plan(overrides),
  actor: 'alice',
});

async function withWorker<T>(fleet: FakeFleet, run: (taskQueue: string) => Promise<T>): Promise<T> {
  const taskQueue = `rollouts-${randomUUID()}`;
  const worker = await Worker.create({
    connection: time.env.nativeConnection,
    taskQueue,
    workflowBundle: time.bundle,
    activities: fleet.activities(),
    dataConverter: workerDataConverter(testCodec),
  });
  return worker.runUntil(run(taskQueue));
}

/** Runs a rollout nobody approves to its end: when it started, its wait, result, last progress and history. */
const leftUnapproved = (fleet: FakeFleet, rollout: RolloutRequest) =>
  withWorker(fleet, async (taskQueue) => {
    const handle = await startRollout(time.env.client, rollout, taskQueue);
    const startedAt = await time.env.currentTimeMs();
    const waiting = await waitForState(handle, 'AWAITING_APPROVAL');
    const result = await handle.result();
    return {
      waiting,
      startedAt,
      result,
      progress: await handle.query(progressQuery),
      history: await handle.fetchHistory(),
    };
  });

test('an approval left past its deadline aborts and rolls back: instances back on the previous version, live unchanged, the reason recorded', async () => {
  const fleet = new FakeFleet(4, { liveVersion: 1 });
  const { waiting, startedAt, result, progress, history } = await leftUnapproved(
    fleet,
    request({ approvalTimeoutSeconds: 7200 }),
  );
  const reason = "approval timed out after 2h: wave 1 of 3 was not approved within the plan's bound (7200 s)";
  // While it waits, status shows when the wait ends.
  expect(Date.parse(waiting.approvalDeadline!) - startedAt).toBeGreaterThanOrEqual(7_199_000);
  expect(Date.parse(waiting.approvalDeadline!) - startedAt).toBeLessThan(7_300_000);
  expect(result).toMatchObject({ state: 'ROLLED_BACK', liveVersion: 1, revertedInstances: 1, reason });
  expect(progress.outcome).toBe(`rolled back: ${reason}`);
  expect(progress.approvalDeadline).toBeUndefined();
  expect(progress.audit.at(-1)).toMatchObject({ action: 'abort', actor: 'approval-timeout', reason });
  expect(fleet.promoted).toEqual([]);
  expect(fleet.heldVersions()).toEqual([1, 1, 1, 1]);
  // Only the canary was ever sent the candidate.
  expect(fleet.pushes.filter((push) => push.version === 2).map((push) => push.refs.length)).toEqual([1]);

  if (process.env.RECORD_HISTORIES) {
    // Recorded in the clear (the guard test in rolloutWorkflow.test.ts keeps every recorded history so).
    const events = await decodeHistoryEvents(history.events ?? [], [testCodec]);
    const plain = temporal.api.history.v1.History.create({ events });
    writeFileSync(path.join(__dirname, 'histories', HISTORY), JSON.stringify(plain.toJSON(), null, 2));
  }
});

test('an approval given before the deadline lets the rollout go on to success', async () => {
  const fleet = new FakeFleet(4, { liveVersion: 1 });
  const result = await withWorker(fleet, async (taskQueue) => {
    const handle = await startRollout(time.env.client, request({ approvalTimeoutSeconds: 7200 }), taskQueue);
    await waitForState(handle, 'AWAITING_APPROVAL');
    await time.env.sleep('1 hour');
    await handle.executeUpdate(approveUpdate, { args: [{ actor: 'bob', reason: 'canary looks good' }] });
    return handle.result();
  });
  expect(result).toMatchObject({ state: 'SUCCEEDED', liveVersion: 2, updatedInstances: 4 });
  expect(fleet.promoted).toEqual([2]);
  expect(fleet.heldVersions()).toEqual([2, 2, 2, 2]);
});

test('without approvalTimeoutSeconds an approval waits the plan bound on holds: maxPauseSeconds, else 24 h', async () => {
  const bounded = await leftUnapproved(
    new FakeFleet(2, { liveVersion: 1 }),
    request({ maxPauseSeconds: 1800 }),
  );
  expect(bounded.result.reason).toBe(
    "approval timed out after 30m: wave 1 of 2 was not approved within the plan's bound (1800 s)",
  );
  const byDefault = await leftUnapproved(new FakeFleet(2, { liveVersion: 1 }), request());
  expect(byDefault.result.reason).toBe(
    "approval timed out after 24h: wave 1 of 2 was not approved within the plan's bound (86400 s)",
  );
  expect(Date.parse(byDefault.waiting.approvalDeadline!) - byDefault.startedAt).toBeGreaterThanOrEqual(
    86_399_000,
  );
});

test('a rollout whose approval timed out replays from its recorded history', async () => {
  // Recorded in the clear from the first test (patch approval-timeout): canary, two hours unapproved,
  // rolled back.
  const recorded = recordedHistory(HISTORY);
  const Type = temporal.api.enums.v1.EventType;
  const timers = (recorded.events ?? []).filter((event) => event.eventType === Type.EVENT_TYPE_TIMER_FIRED);
  expect(timers).toHaveLength(1);
  await expectReplays(time.bundle, recorded);
});

test('a rollout without an approval gate issues exactly the commands it did: no approval-timeout marker, one timer per bake', async () => {
  const fleet = new FakeFleet(4, { liveVersion: 1 });
  const history = await withWorker(fleet, async (taskQueue) => {
    const handle = await startRollout(
      time.env.client,
      request({ approval: 'none', bakeSeconds: 60, approvalTimeoutSeconds: 7200 }),
      taskQueue,
    );
    expect(await handle.result()).toMatchObject({ state: 'SUCCEEDED' });
    return handle.fetchHistory();
  });
  const patches = await decodeHistoryEvents(history.events ?? [], [testCodec]).then((events) =>
    events.flatMap((event) => {
      const data = event.markerRecordedEventAttributes?.details?.['patch-data']?.payloads?.[0]?.data;
      return data ? [(JSON.parse(Buffer.from(data).toString()) as { id: string }).id] : [];
    }),
  );
  expect(patches.length).toBeGreaterThan(0);
  expect(patches).not.toContain('approval-timeout');
  const Type = temporal.api.enums.v1.EventType;
  expect(history.events?.filter((event) => event.eventType === Type.EVENT_TYPE_TIMER_STARTED)).toHaveLength(
    3,
  );
});
