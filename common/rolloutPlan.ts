import { alarmProblems } from './alarms';
import { canaryProblems } from './canaryAnalysis';
import {
  LEGACY_MAX_BAKE_SECONDS,
  MAX_BAKE_SECONDS,
  MAX_PAUSE_SECONDS_LIMIT,
  type RolloutPlan,
  type WaveStrategy,
  type WaveTarget,
} from './rollout';
import { shapeGuardProblem } from './shapeGuard';

/**
 * Wave arithmetic: pure and deterministic, so the workflow can run it and clients can preview it.
 * Waves are cumulative instance counts: each wave brings the fleet up to its count.
 */
export function waveSizes(strategy: WaveStrategy, fleetSize: number): number[] {
  if (fleetSize === 0) return [];
  const targets = cumulativeTargets(strategy).map((target) => resolveTarget(target, fleetSize));
  const waves: number[] = [];
  for (const count of targets) {
    const capped = Math.min(Math.max(count, 1), fleetSize);
    if (capped > (waves[waves.length - 1] ?? 0)) waves.push(capped);
  }
  // Whatever the plan says, a rollout that completes has reached every instance.
  if (waves[waves.length - 1] !== fleetSize) waves.push(fleetSize);
  return waves;
}

/** The failure budget as an instance count. */
export function failureBudget(maxFailures: WaveTarget, fleetSize: number): number {
  return typeof maxFailures === 'number'
    ? maxFailures
    : Math.floor((percentOf(maxFailures) / 100) * fleetSize);
}

/**
 * Every problem with a plan, each naming its field; empty when the plan is valid. `legacy` checks a run
 * started before holds were bounded as it was checked then.
 */
export function planProblems(plan: RolloutPlan, legacy = false): string[] {
  const problems: string[] = [];
  const { strategy } = plan;
  if (strategy.kind === 'explicit') {
    if (strategy.waves.length === 0) problems.push('plan.strategy.waves: give at least one wave');
    if (strategy.waves.length > 100) problems.push('plan.strategy.waves: at most 100 waves');
    strategy.waves.forEach((wave, i) => {
      if (!isTarget(wave))
        problems.push(`plan.strategy.waves[${i}]: a positive integer or a percentage such as "10%"`);
    });
  } else if (strategy.kind === 'linear') {
    if (!(strategy.stepPercent > 0 && strategy.stepPercent <= 100)) {
      problems.push('plan.strategy.stepPercent: a number in (0, 100]');
    }
  } else if (strategy.kind === 'exponential') {
    if (!(strategy.startPercent > 0 && strategy.startPercent <= 100)) {
      problems.push('plan.strategy.startPercent: a number in (0, 100]');
    }
    if (!(strategy.growthFactor > 1 && strategy.growthFactor <= 100)) {
      problems.push('plan.strategy.growthFactor: a number in (1, 100]');
    }
  } else {
    problems.push('plan.strategy.kind: one of explicit, linear, exponential');
  }
  const maxBake = legacy ? LEGACY_MAX_BAKE_SECONDS : MAX_BAKE_SECONDS;
  if (!Number.isInteger(plan.bakeSeconds) || plan.bakeSeconds < 0 || plan.bakeSeconds > maxBake) {
    problems.push(`plan.bakeSeconds: an integer from 0 to ${maxBake}`);
  }
  const { maxPauseSeconds, allowSelfApproval } = plan;
  if (
    maxPauseSeconds !== undefined &&
    (!Number.isInteger(maxPauseSeconds) || maxPauseSeconds < 1 || maxPauseSeconds > MAX_PAUSE_SECONDS_LIMIT)
  ) {
    problems.push(`plan.maxPauseSeconds: an integer from 1 to ${MAX_PAUSE_SECONDS_LIMIT}`);
  }
  if (allowSelfApproval !== undefined && typeof allowSelfApproval !== 'boolean') {
    problems.push('plan.allowSelfApproval: true or false');
  }
  if (plan.allowEmptyFleet !== undefined && typeof plan.allowEmptyFleet !== 'boolean') {
    problems.push('plan.allowEmptyFleet: true or false');
  }
  if (!['none', 'after-first-wave', 'every-wave'].includes(plan.approval)) {
    problems.push('plan.approval: one of none, after-first-wave, every-wave');
  }
  if (!(isTarget(plan.maxFailures) || plan.maxFailures === 0)) {
    problems.push('plan.maxFailures: a non-negative integer or a percentage such as "5%"');
  }
  if (plan.push) {
    const { timeoutMs, attempts, concurrency } = plan.push;
    if (!Number.isInteger(timeoutMs) || timeoutMs < 100 || timeoutMs > 60_000) {
      problems.push('plan.push.timeoutMs: an integer from 100 to 60000');
    }
    if (!Number.isInteger(attempts) || attempts < 1 || attempts > 10)
      problems.push('plan.push.attempts: 1 to 10');
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 256) {
      problems.push('plan.push.concurrency: 1 to 256');
    }
  }
  // Shape guard and approvals that expire:
  const shapeProblem = shapeGuardProblem(plan.shapeGuard);
  if (shapeProblem) problems.push(shapeProblem);
  const { approvalTimeoutSeconds } = plan;
  if (
    approvalTimeoutSeconds !== undefined &&
    (!Number.isInteger(approvalTimeoutSeconds) ||
      approvalTimeoutSeconds < 1 ||
      approvalTimeoutSeconds > MAX_PAUSE_SECONDS_LIMIT)
  ) {
    problems.push(`plan.approvalTimeoutSeconds: an integer from 1 to ${MAX_PAUSE_SECONDS_LIMIT}`);
  }
  // Alarm gate.
  problems.push(...alarmProblems(plan.alarms));
  // Canary analysis gate (issue 11).
  if (plan.canary !== undefined) problems.push(...canaryProblems(plan.canary, plan.bakeSeconds));
  return problems;
}

function cumulativeTargets(strategy: WaveStrategy): WaveTarget[] {
  switch (strategy.kind) {
    case 'explicit':
      return [...strategy.waves];
    case 'linear': {
      const steps = Math.ceil(100 / strategy.stepPercent);
      return Array.from({ length: steps }, (_, i) =>
        asPercent(Math.min(100, (i + 1) * strategy.stepPercent)),
      );
    }
    case 'exponential': {
      const targets: WaveTarget[] = [];
      for (let percent = strategy.startPercent; ; percent *= strategy.growthFactor) {
        targets.push(asPercent(Math.min(100, percent)));
        // The cap guards an unvalidated growth factor of 1 or less.
        if (percent >= 100 || targets.length >= 100) return targets;
      }
    }
  }
}

function resolveTarget(target: WaveTarget, fleetSize: number): number {
  return typeof target === 'number' ? target : Math.ceil((percentOf(target) / 100) * fleetSize);
}

function isTarget(value: unknown): value is WaveTarget {
  if (typeof value === 'number') return Number.isInteger(value) && value > 0;
  if (typeof value !== 'string' || !/^\d+(\.\d+)?%$/.test(value)) return false;
  const percent = percentOf(value as `${number}%`);
  return percent > 0 && percent <= 100;
}

function percentOf(target: `${number}%`): number {
  return Number(target.slice(0, -1));
}

function asPercent(percent: number): `${number}%` {
  return `${percent}%`;
}
