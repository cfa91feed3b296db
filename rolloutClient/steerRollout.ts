import {
  ApplicationFailure,
  type WorkflowHandle,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import { PermissionDeniedError, RolloutStateConflictError } from '../common/errors';
import type { ActorInput, RolloutAction, RolloutProgress } from '../common/rollout';
import { abortUpdate, approveUpdate, pauseUpdate, resumeUpdate } from '../workflows/definitions';

const UPDATES = {
  approve: approveUpdate,
  pause: pauseUpdate,
  resume: resumeUpdate,
  abort: abortUpdate,
} as const;

/**
 * Approves, pauses, resumes or aborts a running rollout, and answers its progress once the workflow has
 * applied the action. Not bounded: an update waits for a worker to apply it. A refusal is typed: the
 * workflow's PermissionDenied (a starter approving their own rollout) stays PermissionDeniedError; any
 * other refusal, or a rollout that has finished, is RolloutStateConflictError naming `rolloutId`.
 */
export async function steerRollout(
  handle: WorkflowHandle,
  action: RolloutAction,
  input: ActorInput,
): Promise<RolloutProgress> {
  try {
    return await handle.executeUpdate(UPDATES[action], { args: [input] });
  } catch (error) {
    if (error instanceof WorkflowUpdateFailedError) {
      const reasonText = error.cause instanceof Error ? error.cause.message : error.message;
      if (error.cause instanceof ApplicationFailure && error.cause.type === 'PermissionDenied') {
        throw new PermissionDeniedError(reasonText);
      }
      throw new RolloutStateConflictError(reasonText, 'rolloutId');
    }
    if (error instanceof WorkflowNotFoundError) {
      throw new RolloutStateConflictError(`cannot ${action}: the rollout has finished`, 'rolloutId');
    }
    throw error;
  }
}
