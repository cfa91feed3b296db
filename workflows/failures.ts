import { ActivityFailure, ApplicationFailure, isCancellation } from '@temporalio/workflow';
import { errorMessage } from '../common/errors';
import type { Rollout } from './rolloutState';

/** Thrown inside the workflow to unwind to the rollback; never leaves it. */
export class RollbackRequired extends Error {}

/**
 * Why an error that ended a step rolls the rollout back. Runs that started before rolling back on any
 * failure fail on an error as they did: for them it is thrown again.
 */
export function rollbackReason(rollout: Rollout, error: unknown): string {
  if (error instanceof RollbackRequired) return error.message;
  if (!rollout.patches.rollBackOnAnyFailure) throw error;
  return failureReason(error, rollout.state);
}

/** What went wrong, for the outcome: a cancellation, a timeout, or the failure's own message. */
export function failureReason(error: unknown, step: string): string {
  const during = step.toLowerCase().replaceAll('_', ' ');
  if (isCancellation(error)) return `the workflow was cancelled while ${during}`;
  const { type, message } = activityFailureCause(error);
  return `failed while ${during}${type ? ` (${type})` : ''}: ${message}`;
}

/** What an activity's failure says of itself: the type its ApplicationFailure names, if any, and its message. */
export function activityFailureCause(error: unknown): { type?: string; message: string } {
  const cause = error instanceof ActivityFailure && error.cause ? error.cause : error;
  return {
    ...(cause instanceof ApplicationFailure && cause.type ? { type: cause.type } : {}),
    message: errorMessage(cause),
  };
}

export function isVersionConflict(error: unknown): boolean {
  return (
    error instanceof ActivityFailure &&
    error.cause instanceof ApplicationFailure &&
    error.cause.type === 'VersionConflict'
  );
}

export function budgetMessage(failed: number, budget: number, stage: string): string {
  return `${failed} instance(s) failed (${stage}), over the plan's budget of ${budget}`;
}
