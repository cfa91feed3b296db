import {
  type Client,
  WorkflowExecutionAlreadyStartedError,
  type WorkflowHandleWithFirstExecutionRunId,
} from '@temporalio/client';
import { RolloutInProgressError } from '../common/errors';
import {
  initialProgress,
  PROGRESS_MEMO,
  type PublishedProgress,
  ROLLOUT_TASK_QUEUE,
  type RolloutRequest,
  rolloutWorkflowId,
} from '../common/rollout';
import { CONFIG_KEY, ROLLOUT_STATE, TENANT_ID } from '../common/searchAttributes';
import type { rolloutWorkflow } from '../workflows/rolloutWorkflow';

/**
 * Starts a rollout. The workflow id is derived from tenant, service and key, so a second rollout of
 * the same key while one runs is refused (RolloutInProgressError) rather than racing it. Its first
 * progress is published with the start, so it reads as PREPARING even before a worker picks it up.
 */
export async function startRollout(
  client: Client,
  request: RolloutRequest,
  taskQueue: string = ROLLOUT_TASK_QUEUE,
): Promise<WorkflowHandleWithFirstExecutionRunId<typeof rolloutWorkflow>> {
  const workflowId = rolloutWorkflowId(request);
  const startedAt = new Date().toISOString();
  const published: PublishedProgress = { ...initialProgress(request, startedAt), publishedAt: startedAt };
  try {
    return await client.workflow.start<typeof rolloutWorkflow>('rolloutWorkflow', {
      workflowId,
      taskQueue,
      args: [request],
      memo: { [PROGRESS_MEMO]: published },
      workflowIdConflictPolicy: 'FAIL',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      typedSearchAttributes: [
        { key: TENANT_ID, value: request.tenantId },
        { key: CONFIG_KEY, value: request.key },
        { key: ROLLOUT_STATE, value: 'PREPARING' },
      ],
    });
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) throw new RolloutInProgressError(workflowId);
    throw error;
  }
}
