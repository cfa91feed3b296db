import { setTimeout as sleep } from 'node:timers/promises';
import type { RolloutProgress } from '../../common/rollout';
import { progressQuery } from '../../workflows/definitions';

/**
 * Polls a rollout's progress query until it reaches `state` (a query may fail while the workflow's
 * first task is still on its way: that is retried too); throws after `seconds`, naming the last state.
 */
export async function waitForState(
  handle: { query: (q: typeof progressQuery) => Promise<RolloutProgress> },
  state: RolloutProgress['state'],
  seconds = 45,
): Promise<RolloutProgress> {
  let seen: string | undefined;
  for (let i = 0; i < seconds * 10; i += 1) {
    const progress = await handle.query(progressQuery).catch(() => undefined);
    if (progress?.state === state) return progress;
    seen = progress?.state ?? seen;
    await sleep(100);
  }
  throw new Error(`rollout never reached ${state} in ${seconds} s (last seen: ${seen ?? 'no answer'})`);
}
