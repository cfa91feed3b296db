import { DEFAULT_MAX_PAUSE_SECONDS, type RolloutPlan } from '../common/rollout';

/**
 * Approvals that expire: an approval gate waits `plan.approvalTimeoutSeconds` (else the plan's bound on
 * holds, maxPauseSeconds, itself a day by default), then the rollout rolls back with the reason. A
 * canary nobody looked at must not keep pooled instances, shared by every tenant, on an unfinished
 * change (argo-rollouts#2200 asks the same of Argo). Workflow code: deterministic, no I/O.
 */

/** The change that gave approval waits their own timeout and recorded its expiry, for `patched`. */
export const APPROVAL_TIMEOUT_PATCH = 'approval-timeout';

/** Who the audit names for an approval that expired: no person aborted it. */
export const APPROVAL_TIMEOUT_ACTOR = 'approval-timeout';

export function approvalTimeoutSecondsOf(plan: RolloutPlan): number {
  return plan.approvalTimeoutSeconds ?? plan.maxPauseSeconds ?? DEFAULT_MAX_PAUSE_SECONDS;
}

/** When an approval wait starting now ends, in workflow time (deterministic on replay). */
export function approvalDeadline(seconds: number): string {
  return new Date(Date.now() + seconds * 1000).toISOString();
}

/**
 * `approval timed out after 2h: wave 1 of 3 was not approved within the plan's bound (7200 s)`: the
 * bound's wording is what runs before this said, so readers of outcomes find both the same way.
 */
export function approvalTimedOut(seconds: number, waveIndex: number, waveCount: number): string {
  return (
    `approval timed out after ${humanDuration(seconds)}: wave ${waveIndex + 1} of ${waveCount} was not ` +
    `approved within the plan's bound (${seconds} s)`
  );
}

function humanDuration(seconds: number): string {
  if (seconds % 3600 === 0) return `${seconds / 3600}h`;
  if (seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}
