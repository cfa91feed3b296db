import type { WorkflowExecutionDescription } from '@temporalio/client';
import { PROGRESS_MEMO, type PublishedProgress, type RolloutState } from '../../common/rollout';
import type { Rollout } from '../../common/api/rollouts';
import { ROLLOUT_STATE } from '../../common/searchAttributes';

type Progress = Omit<Rollout, 'rolloutId' | 'workflowId' | 'staleSince'>;

/**
 * What a rollout last published about itself, read from its description (memo, else search attribute):
 * what operators are answered when no worker answers the progress query, and once a rollout is over.
 */
export interface Published {
  readonly progress: Progress;
  /** When it was published: the moment the answer describes. */
  readonly at: string;
  /** The whole progress (a memo), not only the state (the search attribute of an older run). */
  readonly complete: boolean;
}

export function publishedProgressOf(
  description: WorkflowExecutionDescription,
  key: string,
): Published | undefined {
  const memo = description.memo?.[PROGRESS_MEMO] as PublishedProgress | undefined;
  if (memo && typeof memo === 'object' && typeof memo.publishedAt === 'string') {
    const { publishedAt, ...progress } = memo;
    return { progress, at: publishedAt, complete: true };
  }
  // Runs started before progress was published have only their state, in a search attribute.
  const state = description.typedSearchAttributes.get(ROLLOUT_STATE) as RolloutState | undefined;
  if (!state) return undefined;
  return {
    progress: {
      state,
      key,
      waves: [],
      instances: { total: 0, updated: 0, failed: 0, pending: 0, reverted: 0 },
      audit: [],
    },
    at: (description.closeTime ?? description.startTime).toISOString(),
    complete: false,
  };
}
