import { ActivityFailure, ApplicationFailure, isCancellation } from '@temporalio/workflow';
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
  const cause = error instanceof ActivityFailure && error.cause ? error.cause : error;
  const type = cause instanceof ApplicationFailure && cause.type ? ` (${cause.type})` : '';
  return `failed while ${during}${type}: ${cause instanceof Error ? cause.message : String(cause)}`;
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
