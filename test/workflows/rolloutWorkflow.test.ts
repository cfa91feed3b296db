import { setTimeout as sleep } from 'node:timers/promises';
import { WorkflowFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { type WorkflowBundleWithSourceMap, Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import { RolloutInProgressError } from '../../common/errors';
import {
  REVERT_RETRY_WINDOW_MS,
  type RolloutPlan,
  type RolloutProgress,
  type RolloutRequest,
} from '../../common/rollout';
import { workerDataConverter } from '../../server/payloadEncryption/workerDataConverter';
import { startRollout } from '../../rolloutClient';
import {
  abortUpdate,
  approveUpdate,
  pauseUpdate,
  progressQuery,
  resumeUpdate,
} from '../../workflows/definitions';
import { FakeFleet } from '../support/fakeFleet';
import { expectReplays, recordedHistory, scheduled } from '../support/recordedHistories';
import { startTimeSkipping, testCodec } from '../support/timeSkipping';

/**
 * The workflow's logic on Temporal's time-skipping test server: hour-long bakes take no wall time.
 * Activities are faked at the activity boundary (never the SDK); the real activities run against the
 * local stack in the integration tests.
 */
let env: TestWorkflowEnvironment;
let bundle: WorkflowBundleWithSourceMap;
const codec = testCodec;

beforeAll(async () => {
  ({ env, bundle } = await startTimeSkipping());
}, 120_000);

afterAll(() => env?.teardown());

/**
 * A failed test can leave its rollout open with an activity scheduled on a task queue nobody polls;
 * the test server does not skip time while one is pending, so every later bake would hang.
 */
const launched: Awaited<ReturnType<typeof startRollout>>[] = [];

afterEach(async () => {
  for (const handle of launched.splice(0)) {
    const { status } = await handle.describe();
    if (status.name === 'RUNNING') await handle.terminate('test cleanup');
  }
});

/** Starts a rollout through the product's own client, remembering it for the cleanup above. */
async function launch(rollout: RolloutRequest, taskQueue: string) {
  const handle = await startRollout(env.client, rollout, taskQueue);
  launched.push(handle);
  return handle;
}

const plan = (overrides: Partial<RolloutPlan> = {}): RolloutPlan => ({
  strategy: { kind: 'explicit', waves: [1, '10%', '50%', '100%'] },
  bakeSeconds: 3600,
  approval: 'none',
  maxFailures: 0,
  ...overrides,
});

function request(overrides: Partial<RolloutRequest> = {}): RolloutRequest {
  return {
    tenantId: `t-${randomUUID().slice(0, 8)}`,
    key: 'tenant_config_flags',
    change: { kind: 'set', value: '{"beta":true}' },
    targetServices: ['orders'],
    plan: plan(),
    actor: 'alice',
    ...overrides,
  };
}

async function withWorker<T>(fleet: FakeFleet, run: (taskQueue: string) => Promise<T>): Promise<T> {
  const taskQueue = `rollouts-${randomUUID()}`;
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: bundle,
    activities: fleet.activities(),
    dataConverter: workerDataConverter(codec),
  });
  return worker.runUntil(run(taskQueue));
}

/** Runs a rollout to its end: its result, its last progress and its history. */
const runToEnd = (fleet: FakeFleet, rollout: RolloutRequest) =>
  withWorker(fleet, async (taskQueue) => {
    const handle = await launch(rollout, taskQueue);
    return {
      result: await handle.result(),
      progress: await handle.query(progressQuery),
      history: await handle.fetchHistory(),
    };
  });

/** Polls the progress query (which does not advance time) until the rollout reaches `state`. */
async function waitForState(
  handle: { query: (q: typeof progressQuery) => Promise<RolloutProgress> },
  state: RolloutProgress['state'],
): Promise<RolloutProgress> {
  for (let i = 0; i < 200; i += 1) {
    const progress = await handle.query(progressQuery);
    if (progress.state === state) return progress;
    await sleep(50);
  }
  throw new Error(`rollout never reached ${state}: ${(await handle.query(progressQuery)).state}`);
}

test('waves follow the plan, bake durably, promote only at the end and leave every instance on the candidate', async () => {
  const fleet = new FakeFleet(10, { liveVersion: 1 });
  const startedAt = await env.currentTimeMs();
  const result = await withWorker(fleet, async (taskQueue) => {
    const handle = await launch(request(), taskQueue);
    return handle.result();
  });

  expect(result).toMatchObject({
    state: 'SUCCEEDED',
    candidateVersion: 2,
    liveVersion: 2,
    updatedInstances: 10,
  });
  // [1, "10%", "50%", "100%"] of 10 instances: 10% is the canary again, so three waves of 1, 4 and 5.
  expect(fleet.pushes.map((push) => push.refs.length)).toEqual([1, 4, 5]);
  expect(fleet.pushes.every((push) => push.version === 2 && push.revertFrom === undefined)).toBe(true);
  expect(fleet.promoted).toEqual([2]);
  expect(fleet.promotedAfterPushes).toBe(3);
  expect(fleet.heldVersions()).toEqual(Array(10).fill(2));
  // Three one-hour bakes passed in workflow time, in seconds of wall time.
  expect((await env.currentTimeMs()) - startedAt).toBeGreaterThanOrEqual(3 * 3600 * 1000);
});

test('the canary and early waves span zones', async () => {
  const fleet = new FakeFleet(6, { liveVersion: 1, zones: ['a', 'b', 'c'] });
  await withWorker(fleet, async (taskQueue) =>
    (
      await launch(request({ plan: plan({ strategy: { kind: 'explicit', waves: [3, '100%'] } }) }), taskQueue)
    ).result(),
  );
  expect(new Set(fleet.pushes[0]!.refs.map((ref) => fleet.zoneOf(ref)))).toEqual(new Set(['a', 'b', 'c']));
});

test('an approval gate holds the rollout after the canary until a release manager approves', async () => {
  const fleet = new FakeFleet(4, { liveVersion: 1 });
  const result = await withWorker(fleet, async (taskQueue) => {
    const handle = await launch(
      request({ plan: plan({ bakeSeconds: 0, approval: 'after-first-wave' }) }),
      taskQueue,
    );
    const waiting = await waitForState(handle, 'AWAITING_APPROVAL');
    expect(waiting.waves[0]).toMatchObject({ state: 'awaiting-approval', updated: 1 });
    expect(fleet.pushes).toHaveLength(1);

    const approved = await handle.executeUpdate(approveUpdate, {
      args: [{ actor: 'bob', reason: 'canary looks good' }],
    });
    expect(approved.audit.map((entry) => [entry.action, entry.actor])).toEqual([
      ['start', 'alice'],
      ['approve', 'bob'],
    ]);
    // The answer comes once the rollout has acted on the approval, not while it still waits.
    expect(approved.state).not.toBe('AWAITING_APPROVAL');
    return handle.result();
  });
  expect(result.state).toBe('SUCCEEDED');
  expect(fleet.pushes.map((push) => push.refs.length)).toEqual([1, 1, 2]);
});

test('an approval without an actor, or while no approval is awaited, is refused with the reason', async () => {
  const fleet = new FakeFleet(2, { liveVersion: 1 });
  await withWorker(fleet, async (taskQueue) => {
    const gated = await launch(
      request({ plan: plan({ bakeSeconds: 0, approval: 'every-wave' }) }),
      taskQueue,
    );
    await waitForState(gated, 'AWAITING_APPROVAL');
    await expect(gated.executeUpdate(approveUpdate, { args: [{ actor: '' }] })).rejects.toHaveProperty(
      'cause.message',
      expect.stringMatching(/actor is required/),
    );

    // Time stands still in the test server while nobody waits on a result: the rollout stays baking.
    const baking = await launch(request(), taskQueue);
    await waitForState(baking, 'BAKING');
    await expect(baking.executeUpdate(approveUpdate, { args: [{ actor: 'bob' }] })).rejects.toHaveProperty(
      'cause.message',
      expect.stringMatching(/rollout is BAKING, not AWAITING_APPROVAL/),
    );
  });
});

test('pause holds the next wave; resume continues it; both are audited', async () => {
  const fleet = new FakeFleet(4, { liveVersion: 1 });
  const result = await withWorker(fleet, async (taskQueue) => {
    const handle = await launch(
      request({ plan: plan({ bakeSeconds: 0, approval: 'after-first-wave' }) }),
      taskQueue,
    );
    await waitForState(handle, 'AWAITING_APPROVAL');
    await handle.executeUpdate(pauseUpdate, { args: [{ actor: 'carol', reason: 'incident elsewhere' }] });
    await handle.executeUpdate(approveUpdate, { args: [{ actor: 'bob' }] });
    const paused = await waitForState(handle, 'PAUSED');
    expect(paused.paused).toBe(true);
    expect(fleet.pushes).toHaveLength(1);

    await expect(handle.executeUpdate(pauseUpdate, { args: [{ actor: 'carol' }] })).rejects.toHaveProperty(
      'cause.message',
      expect.stringMatching(/already paused/),
    );
    await handle.executeUpdate(resumeUpdate, { args: [{ actor: 'carol' }] });
    const done = await handle.result();
    expect((await handle.query(progressQuery)).audit.map((entry) => entry.action)).toEqual([
      'start',
      'pause',
      'approve',
      'resume',
    ]);
    return done;
  });
  expect(result.state).toBe('SUCCEEDED');
});

test('abort rolls back: updated instances get the previous version back and the candidate is never live', async () => {
  const fleet = new FakeFleet(4, { liveVersion: 1 });
  const result = await withWorker(fleet, async (taskQueue) => {
    const handle = await launch(
      request({ plan: plan({ bakeSeconds: 0, approval: 'after-first-wave' }) }),
      taskQueue,
    );
    await waitForState(handle, 'AWAITING_APPROVAL');
    await handle.executeUpdate(abortUpdate, { args: [{ actor: 'dave', reason: 'wrong value' }] });
    return handle.result();
  });

  expect(result).toMatchObject({ state: 'ROLLED_BACK', candidateVersion: 2, liveVersion: 1 });
  expect(result.reason).toMatch(/aborted by dave: wrong value/);
  expect(fleet.promoted).toEqual([]);
  expect(fleet.pushes.at(-1)).toMatchObject({ version: 1, revertFrom: 2 });
  expect(fleet.heldVersions()).toEqual([1, 1, 1, 1]);
});

test('push failures past the budget roll back, and the candidate is never promoted', async () => {
  const fleet = new FakeFleet(10, { liveVersion: 1, failingPushes: ['orders/i-05'] });
  const result = await withWorker(fleet, async (taskQueue) => (await launch(request(), taskQueue)).result());
  expect(result.state).toBe('ROLLED_BACK');
  expect(result.reason).toMatch(/over the plan's budget of 0/);
  expect(fleet.promoted).toEqual([]);
  expect(fleet.heldVersions().filter((version) => version === 2)).toEqual([]);
});

test('a rollout that finds no instance rolls back without promoting: nothing could gate it', async () => {
  const fleet = new FakeFleet(0, { liveVersion: 1 });
  const result = await withWorker(fleet, async (taskQueue) => (await launch(request(), taskQueue)).result());
  expect(result).toMatchObject({ state: 'ROLLED_BACK', liveVersion: 1, updatedInstances: 0 });
  expect(result.reason).toMatch(/no instance of orders serves the tenant/);
  expect(fleet.promoted).toEqual([]);
  expect(fleet.pushes).toEqual([]);
});

test('with plan.allowEmptyFleet, a rollout that finds no instance promotes', async () => {
  const fleet = new FakeFleet(0, { liveVersion: 1 });
  const result = await withWorker(fleet, async (taskQueue) =>
    (await launch(request({ plan: plan({ allowEmptyFleet: true }) }), taskQueue)).result(),
  );
  expect(result).toMatchObject({ state: 'SUCCEEDED', liveVersion: 2, updatedInstances: 0 });
  expect(fleet.promoted).toEqual([2]);
});

test('push failures within the budget are reported and the rollout goes on', async () => {
  const fleet = new FakeFleet(10, { liveVersion: 1, failingPushes: ['orders/i-05'] });
  const result = await withWorker(fleet, async (taskQueue) =>
    (await launch(request({ plan: plan({ maxFailures: '10%' }) }), taskQueue)).result(),
  );
  expect(result).toMatchObject({ state: 'SUCCEEDED', updatedInstances: 9, failedInstances: 1 });
});

test('an instance that turns unhealthy after the canary push fails the health gate and rolls back', async () => {
  const fleet = new FakeFleet(5, { liveVersion: 1, unhealthyOnCandidate: ['orders/i-01'] });
  const result = await withWorker(fleet, async (taskQueue) => (await launch(request(), taskQueue)).result());
  expect(result.state).toBe('ROLLED_BACK');
  expect(result.reason).toMatch(/health check/);
  expect(fleet.pushes.map((push) => push.refs.length)).toEqual([1, 1]);
  expect(fleet.heldVersions()).toEqual([1, 1, 1, 1, 1]);
});

test('rolling back a brand-new key removes it from the instances that got it', async () => {
  const fleet = new FakeFleet(2, { failingPushes: ['orders/i-02'] });
  const result = await withWorker(fleet, async (taskQueue) =>
    (
      await launch(request({ plan: plan({ strategy: { kind: 'explicit', waves: ['100%'] } }) }), taskQueue)
    ).result(),
  );
  expect(result.state).toBe('ROLLED_BACK');
  expect(fleet.pushes.at(-1)).toMatchObject({ version: 0, removed: true, revertFrom: 1 });
  expect(fleet.heldVersions()).toEqual([0, 0]);
});

test('a removal makes every instance forget the key and removes it from the store; nothing is promoted', async () => {
  const fleet = new FakeFleet(4, { liveVersion: 3 });
  const result = await withWorker(fleet, async (taskQueue) =>
    (await launch(request({ change: { kind: 'remove' } }), taskQueue)).result(),
  );
  expect(result).toMatchObject({ state: 'SUCCEEDED', candidateVersion: 0, updatedInstances: 4 });
  expect(fleet.pushes.every((push) => push.version === 0 && push.removed === true)).toBe(true);
  expect(fleet.removed).toBe(true);
  expect(fleet.promoted).toEqual([]);
  expect(fleet.written).toEqual([]);
  expect(fleet.heldVersions()).toEqual([0, 0, 0, 0]);
});

test('a removal past its failure budget gives the instances that forgot the key its previous version back', async () => {
  const fleet = new FakeFleet(4, { liveVersion: 3, failingPushes: ['orders/i-03'] });
  const result = await withWorker(fleet, async (taskQueue) =>
    (await launch(request({ change: { kind: 'remove' } }), taskQueue)).result(),
  );
  expect(result.state).toBe('ROLLED_BACK');
  expect(fleet.removed).toBe(false);
  expect(fleet.pushes.at(-1)).toMatchObject({ version: 3 });
  expect(fleet.pushes.at(-1)?.revertFrom).toBeUndefined();
  expect(fleet.heldVersions()).toEqual([3, 3, 3, 3]);
});

test('an instance that joins during the rollout is swept onto the new version after promotion', async () => {
  const fleet = new FakeFleet(3, { liveVersion: 1, joinsLater: 1 });
  const result = await withWorker(fleet, async (taskQueue) => (await launch(request(), taskQueue)).result());
  expect(result).toMatchObject({ state: 'SUCCEEDED', updatedInstances: 4 });
  expect(fleet.heldVersions()).toEqual([2, 2, 2, 2]);
});

test('once the read caches have expired, a last sweep reaches instances that registered after the first', async () => {
  const fleet = new FakeFleet(3, {
    liveVersion: 1,
    joinsLater: 1,
    joinsAfterSweep: 2,
    readCachesExpireInMs: 6000,
  });
  const handle = await withWorker(fleet, async (taskQueue) => {
    const started = await launch(request({ plan: plan({ bakeSeconds: 0 }) }), taskQueue);
    expect(await started.result()).toMatchObject({ state: 'SUCCEEDED', updatedInstances: 6 });
    return started;
  });
  expect(fleet.heldVersions()).toEqual([2, 2, 2, 2, 2, 2]);
  // After the promotion: the first sweep (the joiner), a durable timer of the caches' lifetime, the last.
  expect(fleet.pushes.slice(fleet.promotedAfterPushes).map((push) => push.refs.length)).toEqual([1, 2]);
  const { events } = await handle.fetchHistory();
  const timers = (events ?? []).flatMap((event) =>
    event.timerStartedEventAttributes
      ? [Number(event.timerStartedEventAttributes.startToFireTimeout?.seconds)]
      : [],
  );
  expect(timers).toEqual([6]);
});

/** The durable timers a rollout started, in seconds. */
async function timersOf(handle: { fetchHistory: () => Promise<temporal.api.history.v1.IHistory> }) {
  const { events } = await handle.fetchHistory();
  return (events ?? []).flatMap((event) =>
    event.timerStartedEventAttributes
      ? [Number(event.timerStartedEventAttributes.startToFireTimeout?.seconds)]
      : [],
  );
}

test('once every read cache acknowledged the promotion, one sweep ends the rollout with no wait', async () => {
  const fleet = new FakeFleet(3, {
    liveVersion: 1,
    joinsLater: 1,
    joinsAfterSweep: 2,
    readCachesExpireInMs: 6000,
    readCaches: 'all',
  });
  const handle = await withWorker(fleet, async (taskQueue) => {
    const started = await launch(request({ plan: plan({ bakeSeconds: 0 }) }), taskQueue);
    expect(await started.result()).toMatchObject({ state: 'SUCCEEDED', updatedInstances: 4 });
    return started;
  });
  // Told right after the promotion, before the sweep's push to the joiner.
  expect(fleet.notices).toEqual([{ version: 2, removed: false, afterPushes: fleet.promotedAfterPushes }]);
  expect(fleet.pushes.slice(fleet.promotedAfterPushes).map((push) => push.refs.length)).toEqual([1]);
  // Those registering after the sweep read the new version from the told caches: no one waits for them.
  expect(await timersOf(handle)).toEqual([]);
});

test.each([
  ['a replica did not acknowledge', 'one-silent' as const],
  ['the notice activity failed', 'fails' as const],
  ['no replica was found', undefined],
])(
  'when %s, the rollout waits the read caches out and sweeps again, as without notices',
  async (_, readCaches) => {
    const fleet = new FakeFleet(3, {
      liveVersion: 1,
      joinsLater: 1,
      joinsAfterSweep: 2,
      readCachesExpireInMs: 6000,
      ...(readCaches ? { readCaches } : {}),
    });
    const handle = await withWorker(fleet, async (taskQueue) => {
      const started = await launch(request({ plan: plan({ bakeSeconds: 0 }) }), taskQueue);
      expect(await started.result()).toMatchObject({ state: 'SUCCEEDED', updatedInstances: 6 });
      return started;
    });
    expect(fleet.heldVersions()).toEqual([2, 2, 2, 2, 2, 2]);
    expect(await timersOf(handle)).toEqual([6]);
  },
);

test('a removal tells the read caches too, and ends without waiting them out', async () => {
  const fleet = new FakeFleet(2, { liveVersion: 1, readCachesExpireInMs: 6000, readCaches: 'all' });
  const handle = await withWorker(fleet, async (taskQueue) => {
    const started = await launch(
      request({ change: { kind: 'remove' }, plan: plan({ bakeSeconds: 0 }) }),
      taskQueue,
    );
    expect(await started.result()).toMatchObject({ state: 'SUCCEEDED' });
    return started;
  });
  expect(fleet.removed).toBe(true);
  expect(fleet.notices).toEqual([{ version: 0, removed: true, afterPushes: fleet.promotedAfterPushes }]);
  expect(await timersOf(handle)).toEqual([]);
});

test('without a read cache, the rollout ends after the first sweep', async () => {
  const fleet = new FakeFleet(3, { liveVersion: 1, joinsAfterSweep: 1 });
  const result = await withWorker(fleet, async (taskQueue) =>
    (await launch(request({ plan: plan({ bakeSeconds: 0 }) }), taskQueue)).result(),
  );
  expect(result).toMatchObject({ state: 'SUCCEEDED', updatedInstances: 3 });
  // No second discovery: with nothing cached, an instance registering now reads the new version itself.
  expect(fleet.heldVersions()).toEqual([2, 2, 2, 1]);
});

test('a second rollout of the same tenant and key is refused while the first runs', async () => {
  const fleet = new FakeFleet(2, { liveVersion: 1 });
  await withWorker(fleet, async (taskQueue) => {
    const first = request({ plan: plan({ bakeSeconds: 0, approval: 'after-first-wave' }) });
    const handle = await launch(first, taskQueue);
    await waitForState(handle, 'AWAITING_APPROVAL');
    await expect(launch({ ...first, actor: 'mallory' }, taskQueue)).rejects.toBeInstanceOf(
      RolloutInProgressError,
    );
    await handle.executeUpdate(abortUpdate, { args: [{ actor: 'alice' }] });
    return handle.result();
  });
});

test('an invalid plan fails the rollout at once, naming the field, before anything is written', async () => {
  const fleet = new FakeFleet(2, { liveVersion: 1 });
  const outcome = withWorker(fleet, async (taskQueue) =>
    (await launch(request({ plan: plan({ bakeSeconds: -5 }) }), taskQueue)).result(),
  );
  await expect(outcome).rejects.toBeInstanceOf(WorkflowFailedError);
  await expect(outcome).rejects.toHaveProperty('cause.message', expect.stringMatching(/plan.bakeSeconds/));
  expect(fleet.written).toEqual([]);
});

test('a recorded history replays deterministically with the current workflow code', async () => {
  const fleet = new FakeFleet(4, { liveVersion: 1, failingPushes: ['orders/i-03'] });
  const history = await withWorker(fleet, async (taskQueue) => {
    const handle = await launch(request({ plan: plan({ maxFailures: 1 }) }), taskQueue);
    await handle.result();
    return handle.fetchHistory();
  });
  await expectReplays(bundle, history);
});

test('a history recorded before the read-cache sweep replays with the current code (a rolling deploy)', async () => {
  // Recorded with the workflow code of commit 552d048 while the activities already answered the read
  // caches' lifetime, as in a rolling deploy (a set rollout, one joiner swept after promotion).
  const recorded = recordedHistory('rollout-before-read-cache-sweep.json');
  expect(recorded.events?.length).toBe(101);
  await expectReplays(bundle, recorded);
});

test('a rollout recorded before holds were bounded replays with the current code: a day-long bake, a three-day pause, its starter approving', async () => {
  // Recorded with the workflow code of commit 4c7fb0e: approval after the canary, paused for three days
  // (past today's default bound), approved by alice who started it (before four-eyes), 86400 s bakes.
  const recorded = recordedHistory('rollout-before-bounded-holds.json');
  expect(recorded.events?.length).toBe(117);
  await expect(Worker.runReplayHistory({ workflowBundle: bundle }, recorded)).resolves.toBeUndefined();
});

test('a rollout recorded publishing its progress replays with the current code: memo updates from waves and steering', async () => {
  // Recorded with the workflow code of commit 233c21f (patch publish-progress): canary, approval wait,
  // paused and resumed by bob, approved by bob, last wave; every change published in the progress memo.
  const recorded = recordedHistory('rollout-publishing-progress.json');
  expect(recorded.events?.length).toBe(119);
  const Type = temporal.api.enums.v1.EventType;
  const published = recorded.events.filter(
    (event) => event.eventType === Type.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED,
  );
  expect(published.length).toBe(20);
  await expectReplays(bundle, recorded);
});

test('a rollout that told the read caches of its promotion replays from its recorded history: one sweep, no timer', async () => {
  // Recorded in the clear from the test above (every replica acknowledged; a joiner swept after promotion).
  const recorded = recordedHistory('rollout-read-cache-notices.json');
  expect(recorded.events?.length).toBe(122);
  expect(recorded.events?.some((event) => event.timerStartedEventAttributes)).toBe(false);
  await expectReplays(bundle, recorded);
});

test('a rollout cancelled mid-bake under roll-back-on-any-failure replays from its recorded history', async () => {
  // Recorded with this change's workflow code: cancelled while the canary baked, the revert retried
  // once (the canary did not answer the first pass), ended ROLLED_BACK.
  const recorded = recordedHistory('rollout-cancelled-mid-bake.json');
  expect(recorded.events?.length).toBe(64);
  await expectReplays(bundle, recorded);
});

describe('a fleet larger than a shard (patch sharded-fleet)', () => {
  const oneWave = (overrides: Partial<RolloutPlan> = {}) =>
    plan({ strategy: { kind: 'explicit', waves: ['100%'] }, bakeSeconds: 0, ...overrides });
  const candidatePushes = (fleet: FakeFleet) =>
    fleet.pushes.filter((push) => push.version === 2 && push.revertFrom === undefined);

  test('1,001 instances are discovered in pages, pushed and checked in shards of at most 500; history grows per shard', async () => {
    const fleet = new FakeFleet(1001, { liveVersion: 1 });
    const { result, history } = await runToEnd(fleet, request({ plan: oneWave() }));
    expect(result).toMatchObject({ state: 'SUCCEEDED', updatedInstances: 1001, failedInstances: 0 });
    // The first discovery, then the sweep's, each in three pages.
    expect(fleet.discoveryAnswers).toEqual([500, 500, 1, 500, 500, 1]);
    // Shards run at once and finish in any order.
    const sizes = (shards: string[][]) => shards.map((refs) => refs.length).sort((a, b) => b - a);
    expect(sizes(candidatePushes(fleet).map((push) => push.refs))).toEqual([500, 500, 1]);
    expect(sizes(fleet.checks)).toEqual([500, 500, 1]);
    expect(new Set(candidatePushes(fleet).flatMap((push) => push.refs)).size).toBe(1001);
    expect(fleet.heldVersions().every((version) => version === 2)).toBe(true);
    // Prepare and write are local activities (patch local-prepare-and-write): markers, not scheduled tasks.
    expect(scheduled(history)).toEqual([
      ...Array<string>(3).fill('discoverInstancePage'),
      ...Array<string>(3).fill('pushToInstances'),
      ...Array<string>(3).fill('checkInstances'),
      'promoteCandidate',
      ...Array<string>(3).fill('discoverInstancePage'),
    ]);
    await expectReplays(bundle, history);
  });

  test('a rollout recorded on the sharded path replays with the current code', async () => {
    // Recorded from the test above: 1,001 instances, one wave, SUCCEEDED.
    const recorded = recordedHistory('rollout-sharded-fleet.json');
    expect(scheduled(recorded).filter((name) => name === 'pushToInstances')).toHaveLength(3);
    await expectReplays(bundle, recorded);
  });

  test('a shard whose activity fails for good fails its instances; within the budget the rollout goes on', async () => {
    const fleet = new FakeFleet(1001, { liveVersion: 1, failingShard: 'orders/i-01' });
    const { result, progress } = await runToEnd(fleet, request({ plan: oneWave({ maxFailures: '50%' }) }));
    expect(result).toMatchObject({ state: 'SUCCEEDED', updatedInstances: 501, failedInstances: 500 });
    expect(progress.failedInstances[0]).toEqual({
      instanceId: 'orders/i-01',
      reason: 'its shard of 500 instance(s) failed (Internal): the worker lost its shard',
    });
    // Those 500 never got the candidate; the sweep leaves them to their version check, as before.
    expect(fleet.heldVersions().filter((version) => version === 1)).toHaveLength(500);
    expect(fleet.heldVersions().filter((version) => version === 2)).toHaveLength(501);
  });

  test('past the budget, a failed shard rolls back every other shard, shard by shard; nothing is left on the candidate', async () => {
    const fleet = new FakeFleet(1001, { liveVersion: 1, failingShard: 'orders/i-01' });
    const { result } = await runToEnd(fleet, request({ plan: oneWave() }));
    expect(result).toMatchObject({
      state: 'ROLLED_BACK',
      liveVersion: 1,
      failedInstances: 500,
      revertedInstances: 1001,
    });
    expect(result.reason).toBe("500 instance(s) failed (push), over the plan's budget of 0");
    const reverts = fleet.pushes.filter((push) => push.revertFrom === 2);
    expect(reverts.every((push) => push.refs.length <= 500)).toBe(true);
    expect(reverts.map((push) => push.refs.length).sort((a, b) => b - a)).toEqual([500, 500, 1]);
    expect(new Set(reverts.flatMap((push) => push.refs)).size).toBe(1001);
    expect(fleet.heldVersions().every((version) => version === 1)).toBe(true);
    expect(fleet.promoted).toEqual([]);
  });
});

test('every recorded history is stored in the clear, so every checkout (with its own payload key) replays it', () => {
  const sealed = Buffer.from('binary/encrypted').toString('base64');
  const files = readdirSync(path.join(__dirname, 'histories')).filter((file) => file.endsWith('.json'));
  expect(files.length).toBeGreaterThan(0);
  const sealedFiles = files.filter((file) =>
    readFileSync(path.join(__dirname, 'histories', file), 'utf8').includes(sealed),
  );
  expect(sealedFiles).toEqual([]);
});

test('a rollout recorded preparing and writing as local activities replays with the current code', async () => {
  // Recorded with the workflow code of the patch local-prepare-and-write: prepare and write as two
  // local-activity markers in the first workflow task, then canary and last wave with a 60 s bake.
  const recorded = recordedHistory('rollout-local-prepare-and-write.json');
  expect(recorded.events?.length).toBe(93);
  const Type = temporal.api.enums.v1.EventType;
  const localCalls = recorded.events.filter(
    (event) =>
      event.eventType === Type.EVENT_TYPE_MARKER_RECORDED &&
      event.markerRecordedEventAttributes?.markerName === 'core_local_activity',
  );
  expect(localCalls.length).toBe(2);
  await expectReplays(bundle, recorded);
});

test('a pause longer than the plan allows rolls back on its own, and says why', async () => {
  const fleet = new FakeFleet(4, { liveVersion: 1 });
  const result = await withWorker(fleet, async (taskQueue) => {
    const handle = await launch(
      request({ plan: plan({ bakeSeconds: 0, approval: 'after-first-wave', maxPauseSeconds: 3600 }) }),
      taskQueue,
    );
    await waitForState(handle, 'AWAITING_APPROVAL');
    await handle.executeUpdate(pauseUpdate, { args: [{ actor: 'carol' }] });
    await handle.executeUpdate(approveUpdate, { args: [{ actor: 'bob' }] });
    return handle.result();
  });
  expect(result).toMatchObject({ state: 'ROLLED_BACK', liveVersion: 1 });
  expect(result.reason).toMatch(/paused for longer than the plan allows \(3600 s\)/);
  expect(fleet.promoted).toEqual([]);
  expect(fleet.heldVersions()).toEqual(Array(4).fill(1));
});

describe('every end but success rolls back (patch roll-back-on-any-failure)', () => {
  const oneWave = (overrides: Partial<RolloutPlan> = {}) =>
    plan({ strategy: { kind: 'explicit', waves: ['100%'] }, bakeSeconds: 0, ...overrides });
  const revertPushes = (fleet: FakeFleet) => fleet.pushes.filter((push) => push.revertFrom !== undefined);

  test('a promotion that fails with anything but a version conflict rolls every instance back; nothing goes live', async () => {
    const fleet = new FakeFleet(4, { liveVersion: 1, promoteFails: 'before-promoting' });
    const result = await withWorker(fleet, async (taskQueue) =>
      (await launch(request({ plan: plan({ bakeSeconds: 0 }) }), taskQueue)).result(),
    );
    expect(result).toMatchObject({ state: 'ROLLED_BACK', liveVersion: 1, revertedInstances: 4 });
    expect(result.reason).toMatch(/failed while promoting \(Internal\): the table refused the update/);
    expect(result.notReverted).toBeUndefined();
    expect(fleet.promoted).toEqual([]);
    expect(fleet.heldVersions()).toEqual([1, 1, 1, 1]);
  });

  test('a promotion that made the candidate live but lost its answer succeeds: a live version is not rolled back', async () => {
    const fleet = new FakeFleet(3, { liveVersion: 1, promoteFails: 'after-promoting' });
    const result = await withWorker(fleet, async (taskQueue) =>
      (await launch(request({ plan: plan({ bakeSeconds: 0 }) }), taskQueue)).result(),
    );
    expect(result).toMatchObject({ state: 'SUCCEEDED', liveVersion: 2, updatedInstances: 3 });
    expect(revertPushes(fleet)).toEqual([]);
    expect(fleet.heldVersions()).toEqual([2, 2, 2]);
  });

  test('a health-check activity that fails rolls back the instances already pushed, and only those', async () => {
    const fleet = new FakeFleet(5, { liveVersion: 1, checkFails: true });
    const { result, progress } = await runToEnd(fleet, request({ plan: plan({ bakeSeconds: 0 }) }));
    expect(result).toMatchObject({ state: 'ROLLED_BACK', liveVersion: 1, revertedInstances: 1 });
    // Its shard's failure is a failure of the instances it checked (patch sharded-fleet).
    expect(result.reason).toBe("1 instance(s) failed (health check), over the plan's budget of 0");
    expect(progress.failedInstances).toEqual([
      {
        instanceId: 'orders/i-01',
        reason: 'its shard of 1 instance(s) failed (Internal): the health check crashed',
      },
    ]);
    expect(fleet.pushes.map((push) => [push.refs.length, push.revertFrom])).toEqual([
      [1, undefined],
      [1, 2],
    ]);
    expect(fleet.heldVersions()).toEqual([1, 1, 1, 1, 1]);
  });

  test('cancelling the workflow mid-bake rolls back to the end: the cancellation cannot cut the revert short', async () => {
    const fleet = new FakeFleet(4, { liveVersion: 1 });
    const { result, progress } = await withWorker(fleet, async (taskQueue) => {
      const handle = await launch(request(), taskQueue);
      await waitForState(handle, 'BAKING');
      await handle.cancel();
      return { result: await handle.result(), progress: await handle.query(progressQuery) };
    });
    expect(result).toMatchObject({ state: 'ROLLED_BACK', liveVersion: 1, revertedInstances: 1 });
    expect(result.reason).toMatch(/the workflow was cancelled while baking/);
    expect(progress).toMatchObject({
      state: 'ROLLED_BACK',
      instances: { total: 4, updated: 0, failed: 0, pending: 3, reverted: 1 },
    });
    expect(fleet.promoted).toEqual([]);
    expect(fleet.heldVersions()).toEqual([1, 1, 1, 1]);
  });

  test('an error in the sweep after promotion does not roll back the live version; the outcome says so', async () => {
    const fleet = new FakeFleet(3, { liveVersion: 1, joinsLater: 1, sweepFails: true });
    const { result, progress } = await runToEnd(fleet, request({ plan: plan({ bakeSeconds: 0 }) }));
    expect(result).toMatchObject({ state: 'SUCCEEDED', liveVersion: 2 });
    expect(progress.outcome).toMatch(
      /the sweep did not finish \(failed while sweeping .*Cloud Map is down\)/,
    );
    expect(revertPushes(fleet)).toEqual([]);
    expect(fleet.heldVersions()).toEqual([2, 2, 2, 1]);
  });

  test('an instance that answers the revert only on a later pass is reverted and reported so; progress counts it reverted, not pending', async () => {
    // A failed promotion rolls every instance back without failing any (a failed health check would).
    const fleet = new FakeFleet(4, {
      liveVersion: 1,
      promoteFails: 'before-promoting',
      revertsUnanswered: { refs: ['orders/i-02'], passes: 2 },
    });
    const { result, progress } = await runToEnd(fleet, request({ plan: oneWave() }));
    expect(result).toMatchObject({ state: 'ROLLED_BACK', revertedInstances: 4, failedInstances: 0 });
    expect(result.notReverted).toBeUndefined();
    expect(revertPushes(fleet).map((push) => push.refs)).toEqual([
      ['orders/i-04', 'orders/i-03', 'orders/i-02', 'orders/i-01'],
      ['orders/i-02'],
      ['orders/i-02'],
    ]);
    expect(progress.instances).toEqual({ total: 4, updated: 0, failed: 0, pending: 0, reverted: 4 });
    expect(progress.failedInstances).toEqual([]);
    expect(fleet.heldVersions()).toEqual([1, 1, 1, 1]);
  });

  test('an instance that failed the health check and was reverted keeps its reason, and counts once', async () => {
    const fleet = new FakeFleet(5, { liveVersion: 1, unhealthyOnCandidate: ['orders/i-01'] });
    const { result, progress } = await runToEnd(fleet, request());
    expect(result).toMatchObject({ state: 'ROLLED_BACK', failedInstances: 1, revertedInstances: 1 });
    expect(progress.instances).toEqual({ total: 5, updated: 0, failed: 1, pending: 4, reverted: 1 });
    expect(progress.failedInstances).toEqual([{ instanceId: 'orders/i-01', reason: 'reports NOT_SERVING' }]);
  });

  test('an instance that never answers the revert is retried within the bound, then named as not reverted', async () => {
    const fleet = new FakeFleet(3, {
      liveVersion: 1,
      promoteFails: 'before-promoting',
      revertsUnanswered: { refs: ['orders/i-02'], passes: 1000 },
    });
    const { result, progress, history } = await runToEnd(fleet, request({ plan: oneWave() }));
    expect(result).toMatchObject({ state: 'ROLLED_BACK', revertedInstances: 2, failedInstances: 1 });
    expect(result.notReverted).toEqual([{ instanceId: 'orders/i-02', reason: 'UNAVAILABLE: down' }]);
    expect(result.reason).toMatch(/1 instance\(s\) could not be reverted \(no answer within 20 s/);
    expect(progress.instances).toEqual({ total: 3, updated: 0, failed: 1, pending: 0, reverted: 2 });
    expect(progress.failedInstances).toEqual([
      { instanceId: 'orders/i-02', reason: 'not reverted: UNAVAILABLE: down' },
    ]);
    expect(revertPushes(fleet).length).toBeGreaterThan(2);
    // The pauses between the passes (durable timers) stay within the bound.
    const paused = (history.events ?? []).reduce(
      (sum, event) => sum + Number(event.timerStartedEventAttributes?.startToFireTimeout?.seconds ?? 0),
      0,
    );
    expect(paused).toBeGreaterThan(0);
    expect(paused * 1000).toBeLessThanOrEqual(REVERT_RETRY_WINDOW_MS);
  });
});

test('a staged rollout recorded before the workflow is split into modules replays with the current code', async () => {
  // Recorded in the clear with the workflow code of this commit, every patch of today (local prepare and
  // write, sharded fleet, read-cache notices, freezes and windows...), to pin the behaviour issue 12's
  // refactor must keep: canary, 600 s bakes, approval after the canary (by bob), paused by bob in the
  // second wave's bake and resumed, a joiner swept after promotion, SUCCEEDED.
  const recorded = recordedHistory('rollout-before-workflow-split.json');
  expect(recorded.events?.length).toBe(170);
  const Type = temporal.api.enums.v1.EventType;
  const updates = recorded.events.filter(
    (event) => event.eventType === Type.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
  );
  expect(
    updates.map(
      (event) => event.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name,
    ),
  ).toEqual(['approve', 'pause', 'resume']);
  expect(recorded.events.at(-1)?.eventType).toBe(Type.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED);
  await expectReplays(bundle, recorded);
});
