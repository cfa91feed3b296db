import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  sleep,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { LiveChange, RolloutActivities, VersionRef } from '../activities/rolloutActivities';
import type { FleetOutcome, InstanceFailure, RefreshPayload } from '../activities/refresh/refreshPusher';
import { instanceRef, type ServiceInstance } from '../common/cloudMap';
import type {
  ActorInput,
  AuditEntry,
  PublishedProgress,
  RolloutProgress,
  RolloutRequest,
  RolloutResult,
  RolloutHold,
  RolloutState,
  WaveProgress,
} from '../common/rollout';
import {
  DEFAULT_MAX_PAUSE_SECONDS,
  DEFAULT_PUSH_SETTINGS,
  PROGRESS_MEMO,
  REVERT_RETRY_WINDOW_MS,
} from '../common/rollout';
import { failureBudget, planProblems, waveSizes } from '../common/rolloutPlan';
import { CONFIG_KEY, ROLLOUT_STATE, TENANT_ID } from '../common/searchAttributes';
import {
  abortUpdate,
  approveUpdate,
  gatesChangedSignal,
  pauseUpdate,
  progressQuery,
  resumeUpdate,
} from './definitions';
import {
  APPROVAL_TIMEOUT_ACTOR,
  APPROVAL_TIMEOUT_PATCH,
  approvalDeadline,
  approvalTimedOut,
  approvalTimeoutSecondsOf,
} from './approvalTimeout';
import { alarmGate } from './alarmGate';
import { canaryGate } from './canaryGate';
import { fleetOrder } from './fleetOrder';
import { FreezeGate } from './freezeGate';
import { fleetCalls } from './shardedFleet';

// Timeouts and retries are declared here, once, per kind of work.
// Store and Cloud Map calls are single requests: short, retried with backoff through a backend blip.
const singleCallOptions = {
  startToCloseTimeout: '30 seconds',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    maximumAttempts: 10,
  },
} as const;
const storage = proxyActivities<RolloutActivities>(singleCallOptions);
// Preparing and writing the candidate run on the worker that runs the workflow task, inside it: no
// activity task to dispatch and no workflow task to wait for after each, so the first push leaves two
// round trips sooner, and each is one history event (a marker) instead of six. Retried as `storage` is:
// the write is idempotent by the rollout's write id, and a worker lost mid-call loses its workflow task,
// which another worker runs again from the start, calls included.
const localStorage = proxyLocalActivities<RolloutActivities>(singleCallOptions);
const discovery = proxyActivities<RolloutActivities>(singleCallOptions);
// A shard of a wave's pushes (workflows/shardedFleet.ts) runs inside one activity (retries per instance
// happen there); heartbeats let a crashed worker's shard be retried on another worker within the
// heartbeat timeout. Pushes are idempotent.
const fleet = proxyActivities<RolloutActivities>({
  startToCloseTimeout: '15 minutes',
  heartbeatTimeout: '30 seconds',
  retry: {
    initialInterval: '2 seconds',
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
    maximumAttempts: 5,
  },
});

// Replicas answer a notice from memory; any failure falls back to waiting their caches out.
const readCaches = proxyActivities<RolloutActivities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '500 milliseconds', maximumAttempts: 2 },
});

/** The change that pages discovery and runs pushes and health checks in shards, for `patched`. */
const SHARDED_FLEET = 'sharded-fleet';
/** The change that prepares and writes the candidate as local activities, for `patched`. */
const LOCAL_PREPARE_AND_WRITE = 'local-prepare-and-write';
/** The change that rolls back a rollout finding no instance instead of promoting it, for `patched`. */
const FAIL_CLOSED_ON_EMPTY_FLEET = 'fail-closed-on-empty-fleet';
/** The change that added the last sweep after read caches expire, for `patched`. */
const SWEEP_AFTER_READ_CACHES = 'sweep-after-read-caches';
/** The change that tells the config service's read caches of a promotion instead of waiting them out, for `patched`. */
const READ_CACHE_NOTICES = 'read-cache-notices';
/** The change that bounded pauses and approval waits (and capped bakes lower), for `patched`. */
const BOUNDED_HOLDS = 'bounded-holds';
/** The change that rolls a rollout of an older version forward to a copy of it, for `patched`. */
const ROLL_FORWARD_TO_COPY = 'roll-forward-to-copy';
/** The change that publishes progress in a memo, readable without a worker, for `patched`. */
const PUBLISH_PROGRESS = 'publish-progress';
/**
 * The change that rolls back on every end but success (an error at any step once the candidate may have
 * been pushed, a cancellation of the workflow), retries reverts, and reports reverted instances.
 */
const ROLL_BACK_ON_ANY_FAILURE = 'roll-back-on-any-failure';
/** The change that holds waves at their boundary while frozen or outside the change windows, for `patched`. */
const FREEZES_AND_WINDOWS = 'freezes-and-windows';
/** The change that watches a plan's CloudWatch alarms during each wave (workflows/alarmGate.ts), for `patched`. */
const ALARM_GATE = 'alarm-gate';
/** The canary analysis gate after each wave's bake (plan.canary), for `patched`. */
const CANARY_ANALYSIS = 'canary-analysis';
/** The first pause between revert passes; it doubles up to the last. */
const REVERT_RETRY_FIRST_MS = 1_000;
const REVERT_RETRY_MAX_MS = 8_000;

const TERMINAL: readonly RolloutState[] = ['SUCCEEDED', 'ROLLED_BACK', 'FAILED'];
const MAX_AUDIT_ENTRIES = 200;
const MAX_REPORTED_FAILURES = 100;

/** Thrown inside the workflow to unwind to the rollback; never leaves it. */
class RollbackRequired extends Error {}

/**
 * One staged rollout of one config change for one tenant: write the candidate, push it wave by wave to
 * the consuming services' instances (bake, health gate, approval), promote it to live, sweep instances
 * that joined meanwhile. Past the failure budget, or on abort, every instance that got the candidate is
 * given the previous version back and the candidate is never made live.
 */
export async function rolloutWorkflow(request: RolloutRequest): Promise<RolloutResult> {
  // Runs that started before holds were bounded keep the limits (and the unbounded waits) they had.
  const boundedHolds = patched(BOUNDED_HOLDS);
  const publishesProgress = patched(PUBLISH_PROGRESS);
  // Runs that started before it fail on an error as they did, with the candidate left where it was pushed.
  const rollBackOnAnyFailure = patched(ROLL_BACK_ON_ANY_FAILURE);
  const problems = planProblems(request.plan, !boundedHolds);
  if (request.targetServices.length === 0)
    problems.push('targetServices: name at least one consuming service');
  if (problems.length > 0) throw ApplicationFailure.nonRetryable(problems.join('; '), 'InvalidArgument');

  const { runId } = workflowInfo();
  const settings = request.plan.push ?? DEFAULT_PUSH_SETTINGS;
  const maxPauseSeconds = request.plan.maxPauseSeconds ?? DEFAULT_MAX_PAUSE_SECONDS;
  const maxHoldMs = maxPauseSeconds * 1000;
  const audit: AuditEntry[] = [{ at: now(), actor: request.actor, action: 'start' }];
  let state: RolloutState = 'PREPARING';
  let paused = false;
  let abortedBy: ActorInput | undefined;
  let waves: WaveProgress[] = [];
  let currentWave = 0;
  let total = 0;
  /** Known once prepared; read by the progress query before that. */
  const versions: { candidate?: VersionRef; previous?: VersionRef; copyOf?: number } = {};
  let outcome: string | undefined;
  /** While an approval is awaited (patch approval-timeout): when it expires. */
  let awaitedUntil: string | undefined;
  const updated = new Set<string>();
  const failures = new Map<string, string>();
  /**
   * Sent the candidate, then confirmed back on the previous version by the rollback; one that failed the
   * candidate first stays in `failures` too, with its reason.
   */
  const reverted = new Set<string>();
  /** Pooled instances already unhealthy for this key before the candidate reached them. */
  const unhealthyBefore = new Set<string>();
  const approvedWaves = new Set<number>();
  let hold: RolloutHold | undefined;

  const progress = (): RolloutProgress => ({
    state,
    change: request.change.kind,
    tenantId: request.tenantId,
    key: request.key,
    ...(request.service ? { service: request.service } : {}),
    // A rollout of an existing version knows its candidate from the start, before it is prepared.
    ...(versions.candidate || request.change.kind === 'existing'
      ? { candidateVersion: versions.candidate?.version ?? (request.change as { version: number }).version }
      : {}),
    ...(versions.copyOf ? { copyOf: versions.copyOf } : {}),
    ...(versions.previous ? { previousVersion: versions.previous.version } : {}),
    currentWave,
    waves,
    instances: {
      total,
      updated: updated.size,
      failed: failures.size,
      // An instance may have failed the candidate and been reverted since: it counts once.
      pending: Math.max(0, total - new Set([...updated, ...failures.keys(), ...reverted]).size),
      reverted: reverted.size,
    },
    failedInstances: [...failures]
      .slice(0, MAX_REPORTED_FAILURES)
      .map(([instanceId, reason]) => ({ instanceId, reason })),
    paused,
    ...(awaitedUntil ? { approvalDeadline: awaitedUntil } : {}),
    ...(outcome ? { outcome } : {}),
    audit,
    ...(hold ? { hold } : {}),
  });
  const record = (action: AuditEntry['action'], input: ActorInput) => {
    audit.push({ at: now(), actor: input.actor, action, ...(input.reason ? { reason: input.reason } : {}) });
    if (audit.length > MAX_AUDIT_ENTRIES) audit.splice(1, 1);
  };
  let lastPublished = '';
  /**
   * Publishes progress where a read needs no worker (the memo): at every change an operator would see,
   * so a query that no worker answers falls back to what the workflow last said, and a finished rollout
   * answers from it. Unchanged progress is not published again (each upsert is a history event).
   */
  const publish = () => {
    if (!publishesProgress) return;
    const current = progress();
    const serialized = JSON.stringify(current);
    if (serialized === lastPublished) return;
    lastPublished = serialized;
    const published: PublishedProgress = { ...current, publishedAt: now() };
    upsertMemo({ [PROGRESS_MEMO]: published });
  };
  const enter = (next: RolloutState) => {
    state = next;
    upsertSearchAttributes([{ key: ROLLOUT_STATE, value: next }]);
    publish();
  };
  const setWave = (index: number, change: Partial<WaveProgress>) => {
    waves = waves.map((wave) => (wave.index === index ? { ...wave, ...change } : wave));
    publish();
  };
  const assertActive = (action: string) => {
    if (TERMINAL.includes(state) || state === 'ROLLING_BACK')
      throw new Error(`cannot ${action}: rollout is ${state}`);
  };

  setHandler(progressQuery, progress);
  /** A steering update: validated (actor and state) before it is accepted, audited when applied. */
  const steer = (
    update: typeof approveUpdate,
    action: AuditEntry['action'],
    allowedNow: () => void,
    apply: (input: ActorInput) => void,
    /** When the answer is due: by default at once; an approval answers once the rollout has moved on. */
    settled: () => boolean = () => true,
    /** Whether this actor may take this action; throws a PermissionDenied failure when not. */
    authorize: (input: ActorInput) => void = () => undefined,
  ) =>
    setHandler(
      update,
      async (input) => {
        record(action, input);
        apply(input);
        publish();
        await condition(settled);
        return progress();
      },
      {
        validator: (input: ActorInput) => {
          assertActor(input);
          allowedNow();
          authorize(input);
        },
      },
    );

  steer(
    approveUpdate,
    'approve',
    () => {
      if (state !== 'AWAITING_APPROVAL')
        throw new Error(`cannot approve: rollout is ${state}, not AWAITING_APPROVAL`);
    },
    () => approvedWaves.add(currentWave),
    () => state !== 'AWAITING_APPROVAL',
    (input) => {
      // Validators do not run on replay, and a refused update leaves no event: running rollouts get the
      // rule too, and one whose starter approved it before the rule still replays (see the recorded history).
      if (input.actor === request.actor && request.plan.allowSelfApproval !== true) {
        throw ApplicationFailure.nonRetryable(
          `four-eyes rule: ${input.actor} started this rollout and may not approve it; another release ` +
            'manager must (or start it with plan.allowSelfApproval: true)',
          'PermissionDenied',
        );
      }
    },
  );
  steer(
    pauseUpdate,
    'pause',
    () => {
      assertActive('pause');
      if (paused) throw new Error('cannot pause: rollout is already paused');
      if (state === 'PROMOTING') throw new Error('cannot pause: rollout is promoting');
    },
    () => (paused = true),
  );
  steer(
    resumeUpdate,
    'resume',
    () => {
      assertActive('resume');
      if (!paused && hold)
        throw new Error(`cannot resume: held by a ${hold.gate}, not paused; it resumes once lifted`);
      if (!paused) throw new Error('cannot resume: rollout is not paused');
    },
    () => (paused = false),
  );
  steer(
    abortUpdate,
    'abort',
    () => {
      assertActive('abort');
      if (state === 'PROMOTING') throw new Error('cannot abort: the candidate is being promoted to live');
      if (abortedBy) throw new Error('cannot abort: rollout is already aborting');
    },
    (input) => (abortedBy = input),
  );

  const freezeGate = new FreezeGate({
    tenantId: request.tenantId,
    hold: (next) => {
      hold = next;
      if (next && state !== 'PAUSED') enter('PAUSED');
      else publish();
    },
    audit: (action, actor, reason) => record(action, { actor, reason }),
    aborted: () => abortedBy !== undefined,
  });
  setHandler(gatesChangedSignal, (change) => freezeGate.notice(change));

  upsertSearchAttributes([
    { key: TENANT_ID, value: request.tenantId },
    { key: CONFIG_KEY, value: request.key },
    { key: ROLLOUT_STATE, value: state },
  ]);

  const payloadOf = (version: VersionRef, revertFrom?: number): RefreshPayload => ({
    tenantId: request.tenantId,
    key: request.key,
    ...(request.service ? { service: request.service } : {}),
    version: version.version,
    value: version.value,
    format: version.format,
    rolloutId: runId,
    ...(revertFrom !== undefined ? { revertFrom } : {}),
  });
  const tally = (result: FleetOutcome) => {
    for (const ref of result.unhealthyBefore ?? []) unhealthyBefore.add(ref);
    for (const ref of result.succeeded) updated.add(ref);
    for (const { instance, reason } of result.failed) {
      updated.delete(instance);
      failures.set(instance, reason);
    }
  };
  /** Waits out a pause; throws to the rollback on abort. */
  const checkpoint = async () => {
    if (paused && !abortedBy) {
      enter('PAUSED');
      const resumed = () => !paused || abortedBy !== undefined;
      // Inline, not behind a helper: an extra await would reorder the commands of runs that replay.
      if (!boundedHolds) await condition(resumed);
      else if (!(await condition(resumed, maxHoldMs)))
        throw new RollbackRequired(`paused for longer than the plan allows (${maxPauseSeconds} s)`);
    }
    if (abortedBy)
      throw new RollbackRequired(
        `aborted by ${abortedBy.actor}${abortedBy.reason ? `: ${abortedBy.reason}` : ''}`,
      );
  };

  // Runs started before it replay their prepare and write as the activities they were.
  const prepareStore = patched(LOCAL_PREPARE_AND_WRITE) ? localStorage : storage;
  const prepared = await prepareStore.prepareRollout(request);
  const previous = prepared.previous;
  versions.previous = previous;
  const removal = request.change.kind === 'remove';
  const writeId = `rollout/${runId}`;
  // Instances never apply an older version over a newer one, and live never moves back: going back to
  // an older version is a new version with its value, which both accept.
  const copyOf =
    prepared.existing && prepared.rollForward && patched(ROLL_FORWARD_TO_COPY)
      ? prepared.existing
      : undefined;
  const candidate =
    request.change.kind === 'set'
      ? await prepareStore.writeCandidate({ request, value: request.change.value, writeId })
      : removal
        ? // Version 0, removed: the instances forget the key (CacheRefresh), and hold version 0 after.
          { version: 0, value: '', format: previous?.format ?? 'text' }
        : copyOf
          ? await prepareStore.writeCandidate({
              request,
              value: copyOf.value,
              writeId,
              copyOf: copyOf.version,
            })
          : prepared.existing;
  if (!candidate) throw ApplicationFailure.nonRetryable('the version to roll out was not found', 'NotFound');
  if (copyOf) versions.copyOf = copyOf.version;
  const target = candidate;
  versions.candidate = target;
  const candidatePayload: RefreshPayload = removal
    ? { ...payloadOf(target), value: undefined, removed: true }
    : payloadOf(target);

  const fleetOps = fleetCalls({ discovery, fleet }, patched(SHARDED_FLEET));
  const instances = fleetOrder(
    await fleetOps.discover({ tenantId: request.tenantId, services: request.targetServices }),
  );
  total = instances.length;
  // No instance, no gate: an empty discovery may be a lost Cloud Map as much as an idle service.
  // Nothing was pushed, so nothing is reverted: the candidate simply never goes live.
  if (total === 0 && !request.plan.allowEmptyFleet && patched(FAIL_CLOSED_ON_EMPTY_FLEET)) {
    const reason =
      `no instance of ${request.targetServices.join(', ')} serves the tenant, so nothing can gate this ` +
      'change; start it again once instances run, or with plan.allowEmptyFleet to promote anyway';
    enter('ROLLED_BACK');
    outcome = `rolled back: ${reason}`;
    publish();
    return {
      state: 'ROLLED_BACK',
      candidateVersion: target.version,
      ...(previous ? { liveVersion: previous.version } : {}),
      updatedInstances: 0,
      failedInstances: 0,
      reason,
    };
  }
  const sizes = waveSizes(request.plan.strategy, total);
  const budget = failureBudget(request.plan.maxFailures, total);
  waves = sizes.map((size, index) => ({
    index,
    targetInstances: size,
    updated: 0,
    failed: 0,
    state: 'pending',
  }));
  const pushed: ServiceInstance[] = [];
  // Alarm gate: only a plan naming alarms has one, so only its runs carry the patch's marker.
  const alarms =
    request.plan.alarms?.length && patched(ALARM_GATE)
      ? alarmGate(request.tenantId, request.plan.alarms)
      : undefined;
  // Only a plan that names the gate calls `patched`: a marker is a command, and other rollouts issue none.
  const canary =
    request.plan.canary && patched(CANARY_ANALYSIS)
      ? canaryGate({
          request,
          canary: request.plan.canary,
          settings,
          versions: { candidate: target.version, ...(previous ? { live: previous.version } : {}) },
          interrupted: () => abortedBy !== undefined,
          report: (wave, analysis) => setWave(wave, { canary: analysis }),
        })
      : undefined;

  try {
    for (const [index, size] of sizes.entries()) {
      currentWave = index;
      // Once instances hold the candidate, a hold is bounded like a pause.
      if (patched(FREEZES_AND_WINDOWS)) {
        const why = await freezeGate.pass(index, prepared.gates, index > 0 ? maxHoldMs : undefined);
        if (why) throw new RollbackRequired(why);
      }
      await checkpoint();
      enter('ROLLING_OUT');
      setWave(index, { state: 'pushing' });
      alarms?.begin(index);
      const batch = instances.slice(pushed.length, size);
      pushed.push(...batch);
      tally(await fleetOps.push({ instances: batch, payload: candidatePayload, settings }));
      setWave(index, waveCounts(batch, updated, failures));
      if (failures.size > budget) throw new RollbackRequired(budgetMessage(failures.size, budget, 'push'));
      if (alarms?.tripped) throw new RollbackRequired(alarms.tripped);

      enter('BAKING');
      setWave(index, { state: 'baking' });
      const canaryWindow = canary
        ? await canary.open(
            index,
            sizes.length,
            pushed.filter((instance) => updated.has(instanceRef(instance))),
            instances.slice(pushed.length),
          )
        : undefined;
      if (request.plan.bakeSeconds > 0)
        await condition(
          () => abortedBy !== undefined || alarms?.tripped !== undefined,
          request.plan.bakeSeconds * 1000,
        );
      if (alarms && !abortedBy) {
        const alarmed = await alarms.end();
        if (alarmed) throw new RollbackRequired(alarmed);
      }
      await checkpoint();
      const stillUpdated = pushed.filter((instance) => updated.has(instanceRef(instance)));
      tally(
        await fleetOps.check({
          instances: stillUpdated,
          request,
          expectedVersion: target.version,
          settings,
          ...(unhealthyBefore.size > 0
            ? { excused: stillUpdated.map(instanceRef).filter((ref) => unhealthyBefore.has(ref)) }
            : {}),
        }),
      );
      setWave(index, waveCounts(batch, updated, failures));
      if (failures.size > budget)
        throw new RollbackRequired(budgetMessage(failures.size, budget, 'health check'));
      if (canary) {
        const regression = await canary.judge(canaryWindow);
        if (regression) throw new RollbackRequired(regression);
        await checkpoint();
      }

      const isLast = index === sizes.length - 1;
      const approvalDue =
        !isLast &&
        (request.plan.approval === 'every-wave' ||
          (request.plan.approval === 'after-first-wave' && index === 0));
      if (approvalDue) {
        // Runs started before approvals expired on their own wait out the plan's bound on holds.
        const expires = boundedHolds && patched(APPROVAL_TIMEOUT_PATCH);
        const approvalSeconds = expires ? approvalTimeoutSecondsOf(request.plan) : maxPauseSeconds;
        if (expires) awaitedUntil = approvalDeadline(approvalSeconds);
        enter('AWAITING_APPROVAL');
        setWave(index, { state: 'awaiting-approval' });
        const decided = () => approvedWaves.has(index) || abortedBy !== undefined;
        if (!boundedHolds) await condition(decided);
        else if (!(await condition(decided, approvalSeconds * 1000))) {
          awaitedUntil = undefined;
          if (!expires)
            throw new RollbackRequired(`not approved within the plan's bound (${maxPauseSeconds} s)`);
          const reason = approvalTimedOut(approvalSeconds, index, sizes.length);
          record('abort', { actor: APPROVAL_TIMEOUT_ACTOR, reason });
          throw new RollbackRequired(reason);
        }
        awaitedUntil = undefined;
        await checkpoint();
      }
      setWave(index, { state: 'done' });
    }
    await checkpoint();
  } catch (error) {
    alarms?.stop();
    if (error instanceof RollbackRequired) return rollBack(error.message);
    if (!rollBackOnAnyFailure) throw error;
    return rollBack(failureReason(error, state));
  }

  enter('PROMOTING');
  let live: LiveChange | undefined;
  try {
    live = removal
      ? await storage.removeKey({ request, removing: prepared.newest })
      : await storage.promoteCandidate({ request, version: target.version });
  } catch (error) {
    // A newer version went live meanwhile (a direct edit): this candidate must not replace it.
    if (isVersionConflict(error))
      return rollBack(`not promoted: ${(error as Error & { cause: Error }).cause.message}`);
    if (!rollBackOnAnyFailure) throw error;
    // A promotion whose answer was lost (a timeout, a worker gone) may have made the candidate live:
    // then it is live, and rolling the instances back would leave them behind the store.
    live = await CancellationScope.nonCancellable(() =>
      storage.confirmLive({ request, version: target.version }).catch(() => undefined),
    );
    if (!live) return rollBack(failureReason(error, 'PROMOTING'));
  }
  /** Instances that registered while the rollout ran have read the old live version: push to them. */
  const sweep = async () => {
    const joined = await fleetOps.discover(
      { tenantId: request.tenantId, services: request.targetServices },
      pushed,
    );
    if (joined.length === 0) return;
    pushed.push(...joined);
    total += joined.length;
    tally(await fleetOps.push({ instances: joined, payload: candidatePayload, settings }));
    publish();
  };
  // From here the candidate is live: an error or a cancellation in the sweeps must not roll back a live
  // version. Whoever they missed holds an older version, which its version check replaces with live.
  let sweepProblem: string | undefined;
  try {
    const readCachesExpireInMs = live?.readCachesExpireInMs ?? 0;
    // The config service may answer reads from its cache with the old state a little longer, and an
    // instance that loaded it while registering would keep it. So, before the sweep, every replica's
    // cache is told: once each has acknowledged, every read answers the new state. Then one sweep is
    // enough: whoever registered before its discovery is pushed to, and whoever registers after it
    // reads the new state (an SDK instance reads its keys again once registered, sdk/configClient.ts).
    // Told first, swept second: the other order would miss an instance that read the old state from a
    // cache between the sweep's discovery and the notice.
    // Where a replica did not acknowledge (unreachable, timed out, none found), it may answer the old
    // state until its TTL runs out: then, as before the notices, a last sweep once the caches have
    // expired reaches whoever registered since the first.
    const readCachesKnow =
      readCachesExpireInMs > 0 &&
      patched(READ_CACHE_NOTICES) &&
      (await readCaches
        .noticeReadCaches({ request, version: target.version, removed: removal, rolloutId: runId })
        .then(
          (notices) => notices.settled,
          () => false,
        ));
    await sweep();
    // Runs whose workflow code predates this wait may still have got an answer here from newer activity
    // code (a rolling deploy): `patched` keeps their histories replaying as they ran.
    if (!readCachesKnow && patched(SWEEP_AFTER_READ_CACHES) && readCachesExpireInMs > 0) {
      await sleep(readCachesExpireInMs);
      await sweep();
    }
  } catch (error) {
    if (!rollBackOnAnyFailure) throw error;
    sweepProblem = failureReason(error, 'sweeping instances that joined');
  }
  enter('SUCCEEDED');
  const copied = versions.copyOf ? ` (a copy of version ${versions.copyOf})` : '';
  outcome =
    (removal
      ? removalOutcome(updated.size, total, live)
      : `version ${target.version}${copied} is live on ${updated.size} of ${total} instances`) +
    (sweepProblem
      ? `; the sweep did not finish (${sweepProblem}): instances that joined meanwhile get it from their version check`
      : '');
  publish();
  return {
    state: 'SUCCEEDED',
    candidateVersion: target.version,
    ...(versions.copyOf ? { copyOf: versions.copyOf } : {}),
    liveVersion: target.version,
    updatedInstances: updated.size,
    failedInstances: failures.size,
  };

  /**
   * The saga's compensation: every instance that was sent the candidate gets the previous version back.
   * It runs to its end even when the workflow is being cancelled: a cancellation is one more failure.
   */
  async function rollBack(reason: string): Promise<RolloutResult> {
    return rollBackOnAnyFailure
      ? CancellationScope.nonCancellable(() => compensate(reason))
      : compensate(reason);
  }

  async function compensate(reason: string): Promise<RolloutResult> {
    enter('ROLLING_BACK');
    setWave(currentWave, { state: 'failed' });
    outcome = `rolled back: ${reason}`;
    // Undoing a removal is an ordinary push of the previous version: the instances forgot the key.
    // A key already gone at its source (a Parameter Store delete) has nothing to restore.
    const revert: RefreshPayload | undefined = removal
      ? previous && payloadOf(previous)
      : previous
        ? payloadOf(previous, target.version)
        : { ...payloadOf(target, target.version), version: 0, value: undefined, removed: true };
    const notReverted = revert ? await revertAll(revert) : [];
    enter('ROLLED_BACK');
    const unsure = notReverted.length
      ? `; ${notReverted.length} instance(s) could not be reverted` +
        (rollBackOnAnyFailure
          ? ` (no answer within ${REVERT_RETRY_WINDOW_MS / 1000} s; named in failedInstances)`
          : '')
      : '';
    outcome = `rolled back: ${reason}${unsure}`;
    publish();
    return {
      state: 'ROLLED_BACK',
      candidateVersion: target.version,
      ...(previous ? { liveVersion: previous.version } : {}),
      updatedInstances: 0,
      failedInstances: failures.size,
      revertedInstances: reverted.size,
      ...(notReverted.length
        ? {
            notReverted: notReverted
              .slice(0, MAX_REPORTED_FAILURES)
              .map(({ instance, reason: why }) => ({ instanceId: instance, reason: why })),
          }
        : {}),
      reason: `${reason}${unsure}`,
    };
  }

  /**
   * Pushes the revert to every instance that was sent the candidate (the last first), then again to
   * those that did not confirm it, until all have or REVERT_RETRY_WINDOW_MS has passed: a frozen
   * instance that comes back meanwhile is reverted, and one that comes back later finds the candidate's
   * push expired. Answers the instances never confirmed, with the last reason. Runs that started
   * before this made one pass, and failed if its activity did.
   */
  async function revertAll(revert: RefreshPayload): Promise<InstanceFailure[]> {
    let remaining = [...pushed].reverse();
    if (!rollBackOnAnyFailure) {
      const once = await fleetOps.push({ instances: remaining, payload: revert, settings });
      for (const ref of once.succeeded) updated.delete(ref);
      return once.failed;
    }
    let failed: InstanceFailure[] = [];
    const until = Date.now() + REVERT_RETRY_WINDOW_MS;
    for (let pause = REVERT_RETRY_FIRST_MS; ; pause = Math.min(pause * 2, REVERT_RETRY_MAX_MS)) {
      const passed = remaining;
      const result = await fleetOps
        .push({ instances: passed, payload: revert, settings })
        .catch((error: unknown) => ({
          succeeded: [],
          failed: passed.map((instance) => ({
            instance: instanceRef(instance),
            reason: failureReason(error, 'reverting'),
          })),
        }));
      for (const ref of result.succeeded) {
        updated.delete(ref);
        reverted.add(ref);
      }
      failed = result.failed;
      const unconfirmed = new Set(failed.map(({ instance }) => instance));
      remaining = passed.filter((instance) => unconfirmed.has(instanceRef(instance)));
      if (remaining.length === 0 || Date.now() + pause > until) break;
      await sleep(pause);
    }
    for (const { instance, reason } of failed) {
      updated.delete(instance);
      const before = failures.get(instance);
      failures.set(instance, `${before ? `${before}; ` : ''}not reverted: ${reason}`);
    }
    return failed;
  }
}

/** What went wrong, for the outcome: a cancellation, a timeout, or the failure's own message. */
function failureReason(error: unknown, step: string): string {
  const during = step.toLowerCase().replaceAll('_', ' ');
  if (isCancellation(error)) return `the workflow was cancelled while ${during}`;
  const cause = error instanceof ActivityFailure && error.cause ? error.cause : error;
  const type = cause instanceof ApplicationFailure && cause.type ? ` (${cause.type})` : '';
  return `failed while ${during}${type}: ${cause instanceof Error ? cause.message : String(cause)}`;
}

function isVersionConflict(error: unknown): boolean {
  return (
    error instanceof ActivityFailure &&
    error.cause instanceof ApplicationFailure &&
    error.cause.type === 'VersionConflict'
  );
}

function waveCounts(batch: readonly ServiceInstance[], updated: Set<string>, failures: Map<string, string>) {
  const refs = batch.map(instanceRef);
  return {
    updated: refs.filter((ref) => updated.has(ref)).length,
    failed: refs.filter((ref) => failures.has(ref)).length,
  };
}

function budgetMessage(failed: number, budget: number, stage: string): string {
  return `${failed} instance(s) failed (${stage}), over the plan's budget of ${budget}`;
}

function assertActor(input: ActorInput | undefined): void {
  if (!input || typeof input.actor !== 'string' || input.actor.length === 0) {
    throw new Error('actor is required (the subject of the caller’s token)');
  }
}

/** Workflow time: deterministic on replay. */
function now(): string {
  return new Date().toISOString();
}

function removalOutcome(updated: number, total: number, live: LiveChange | undefined): string {
  const removed = `removed from ${updated} of ${total} instances`;
  if (!live?.keptVersion) return removed;
  const kept = `version ${live.keptVersion}, written while it ran, was kept for its own rollout`;
  const stillLive = live.stillLiveVersion
    ? `, and version ${live.stillLiveVersion} stays live until then`
    : '';
  return `${removed}; ${kept}${stillLive}`;
}
