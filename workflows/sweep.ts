import { patched, sleep } from '@temporalio/workflow';
import type { LiveChange } from '../activities/rolloutActivities';
import type { RolloutResult } from '../common/rollout';
import { readCaches } from './activityGroups';
import { failureReason } from './failures';
import type { Fleet } from './fleet';
import { READ_CACHE_NOTICES, SWEEP_AFTER_READ_CACHES } from './patches';
import type { Candidate } from './prepare';
import type { Rollout } from './rolloutState';

/**
 * Reaches the instances that registered while the rollout ran: they read the old live version. From
 * here the candidate is live: an error or a cancellation in the sweeps must not roll back a live
 * version. Whoever they missed holds an older version, which its version check replaces with live.
 * Answers why the sweep did not finish, if it did not.
 */
export async function sweepJoiners(
  rollout: Rollout,
  candidate: Candidate,
  fleet: Fleet,
  live: LiveChange,
): Promise<string | undefined> {
  const { request } = rollout;
  const sweep = async () => {
    const joined = await fleet.calls.discover(
      { tenantId: request.tenantId, services: request.targetServices },
      fleet.pushed,
    );
    if (joined.length === 0) return;
    fleet.pushed.push(...joined);
    rollout.total += joined.length;
    rollout.tally(
      await fleet.calls.push({ instances: joined, payload: candidate.payload, settings: rollout.settings }),
    );
    rollout.publish();
  };
  try {
    const readCachesExpireInMs = live.readCachesExpireInMs;
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
        .noticeReadCaches({
          request,
          version: candidate.target.version,
          removed: candidate.removal,
          rolloutId: rollout.runId,
        })
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
    return undefined;
  } catch (error) {
    if (!rollout.patches.rollBackOnAnyFailure) throw error;
    return failureReason(error, 'sweeping instances that joined');
  }
}

/** The live version's outcome: on how many instances it is, and whatever the sweep left undone. */
export function succeed(
  rollout: Rollout,
  candidate: Candidate,
  live: LiveChange,
  sweepProblem: string | undefined,
): RolloutResult {
  const { versions, updated, total } = rollout;
  const { target } = candidate;
  rollout.enter('SUCCEEDED');
  const copied = versions.copyOf ? ` (a copy of version ${versions.copyOf})` : '';
  rollout.outcome =
    (candidate.removal
      ? removalOutcome(updated.size, total, live)
      : `version ${target.version}${copied} is live on ${updated.size} of ${total} instances`) +
    (sweepProblem
      ? `; the sweep did not finish (${sweepProblem}): instances that joined meanwhile get it from their version check`
      : '');
  rollout.publish();
  return {
    state: 'SUCCEEDED',
    candidateVersion: target.version,
    ...(versions.copyOf ? { copyOf: versions.copyOf } : {}),
    liveVersion: target.version,
    updatedInstances: updated.size,
    failedInstances: rollout.failures.size,
  };
}

function removalOutcome(updated: number, total: number, live: LiveChange): string {
  const removed = `removed from ${updated} of ${total} instances`;
  if (!live.keptVersion) return removed;
  const kept = `version ${live.keptVersion}, written while it ran, was kept for its own rollout`;
  const stillLive = live.stillLiveVersion
    ? `, and version ${live.stillLiveVersion} stays live until then`
    : '';
  return `${removed}; ${kept}${stillLive}`;
}
