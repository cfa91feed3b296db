import { CancellationScope, sleep } from '@temporalio/workflow';
import type { InstanceFailure, RefreshPayload } from '../activities/refresh/refreshPusher';
import { instanceRef } from '../common/cloudMap';
import { REVERT_RETRY_WINDOW_MS, type RolloutResult } from '../common/rollout';
import { failureReason } from './failures';
import type { Fleet } from './fleet';
import { type Candidate, refreshPayload } from './prepare';
import { MAX_REPORTED_FAILURES, type Rollout } from './rolloutState';

/** The first pause between revert passes; it doubles up to the last. */
const REVERT_RETRY_FIRST_MS = 1_000;
const REVERT_RETRY_MAX_MS = 8_000;

/**
 * The saga's compensation: every instance that was sent the candidate gets the previous version back.
 * It runs to its end even when the workflow is being cancelled: a cancellation is one more failure.
 */
export async function rollBack(
  rollout: Rollout,
  candidate: Candidate,
  fleet: Fleet,
  reason: string,
): Promise<RolloutResult> {
  return rollout.patches.rollBackOnAnyFailure
    ? CancellationScope.nonCancellable(() => compensate(rollout, candidate, fleet, reason))
    : compensate(rollout, candidate, fleet, reason);
}

async function compensate(
  rollout: Rollout,
  candidate: Candidate,
  fleet: Fleet,
  reason: string,
): Promise<RolloutResult> {
  const { target, previous } = candidate;
  rollout.enter('ROLLING_BACK');
  rollout.setWave(rollout.currentWave, { state: 'failed' });
  rollout.outcome = `rolled back: ${reason}`;
  const revert = revertPayload(rollout, candidate);
  const notReverted = revert ? await revertAll(rollout, fleet, revert) : [];
  rollout.enter('ROLLED_BACK');
  const unsure = notReverted.length
    ? `; ${notReverted.length} instance(s) could not be reverted` +
      (rollout.patches.rollBackOnAnyFailure
        ? ` (no answer within ${REVERT_RETRY_WINDOW_MS / 1000} s; named in failedInstances)`
        : '')
    : '';
  rollout.outcome = `rolled back: ${reason}${unsure}`;
  rollout.publish();
  return {
    state: 'ROLLED_BACK',
    candidateVersion: target.version,
    ...(previous ? { liveVersion: previous.version } : {}),
    updatedInstances: 0,
    failedInstances: rollout.failures.size,
    revertedInstances: rollout.reverted.size,
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
 * Undoing a removal is an ordinary push of the previous version: the instances forgot the key. A key
 * already gone at its source (a Parameter Store delete) has nothing to restore.
 */
function revertPayload(
  rollout: Rollout,
  { target, previous, removal }: Candidate,
): RefreshPayload | undefined {
  if (removal) return previous && refreshPayload(rollout, previous);
  return previous
    ? refreshPayload(rollout, previous, target.version)
    : { ...refreshPayload(rollout, target, target.version), version: 0, value: undefined, removed: true };
}

/**
 * Pushes the revert to every instance that was sent the candidate (the last first), then again to
 * those that did not confirm it, until all have or REVERT_RETRY_WINDOW_MS has passed: a frozen
 * instance that comes back meanwhile is reverted, and one that comes back later finds the candidate's
 * push expired. Answers the instances never confirmed, with the last reason. Runs that started
 * before this made one pass, and failed if its activity did.
 */
async function revertAll(rollout: Rollout, fleet: Fleet, revert: RefreshPayload): Promise<InstanceFailure[]> {
  const { settings, updated, reverted, failures } = rollout;
  let remaining = [...fleet.pushed].reverse();
  if (!rollout.patches.rollBackOnAnyFailure) {
    const once = await fleet.calls.push({ instances: remaining, payload: revert, settings });
    for (const ref of once.succeeded) updated.delete(ref);
    return once.failed;
  }
  let failed: InstanceFailure[] = [];
  const until = Date.now() + REVERT_RETRY_WINDOW_MS;
  for (let pause = REVERT_RETRY_FIRST_MS; ; pause = Math.min(pause * 2, REVERT_RETRY_MAX_MS)) {
    const passed = remaining;
    const result = await fleet.calls
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
