import { CancellationScope } from '@temporalio/workflow';
import type { LiveChange } from '../activities/rolloutActivities';
import { storage } from './activityGroups';
import { failureReason, isVersionConflict } from './failures';
import type { Candidate } from './prepare';
import type { Rollout } from './rolloutState';

/** Live, or why the rollout must roll back instead. */
export type Promotion = { readonly live: LiveChange } | { readonly rollBack: string };

/** Makes the candidate the live version (or removes the key), once every wave has passed its gates. */
export async function promote(rollout: Rollout, candidate: Candidate): Promise<Promotion> {
  const { request } = rollout;
  const { target, removal, prepared } = candidate;
  rollout.enter('PROMOTING');
  try {
    return {
      live: removal
        ? await storage.removeKey({ request, removing: prepared.newest })
        : await storage.promoteCandidate({ request, version: target.version }),
    };
  } catch (error) {
    // A newer version went live meanwhile (a direct edit): this candidate must not replace it.
    if (isVersionConflict(error))
      return { rollBack: `not promoted: ${(error as Error & { cause: Error }).cause.message}` };
    if (!rollout.patches.rollBackOnAnyFailure) throw error;
    // A promotion whose answer was lost (a timeout, a worker gone) may have made the candidate live:
    // then it is live, and rolling the instances back would leave them behind the store.
    const live = await CancellationScope.nonCancellable(() =>
      storage.confirmLive({ request, version: target.version }).catch(() => undefined),
    );
    return live ? { live } : { rollBack: failureReason(error, 'PROMOTING') };
  }
}
