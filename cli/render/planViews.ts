import type { RolloutPlanEntry } from '../apiTypes';
import type { RolloutPlan } from '../../common/rollout';
import { formatTable } from './table';

/** Human output of the plan commands. */

export function formatPlanEntry(entry: RolloutPlanEntry): string {
  return `${scopeOf(entry)}: ${formatPlan(entry.plan)} (set by ${entry.updatedBy} at ${entry.updatedAt})`;
}

export function formatPlanList(entries: readonly RolloutPlanEntry[]): string {
  if (entries.length === 0) return '(no plans: every out-of-band edit takes the default)';
  return formatTable(
    ['SELECTOR', 'SERVICE', 'PLAN', 'UPDATED', 'BY'],
    entries.map((e) => [e.selector, e.service ?? '*', formatPlan(e.plan), e.updatedAt, e.updatedBy]),
  );
}

/** `waves 100%, bake 0s, approval none, max failures 0`. */
export function formatPlan(plan: RolloutPlan): string {
  const { strategy } = plan;
  const waves =
    strategy.kind === 'explicit'
      ? `waves ${strategy.waves.join(',')}`
      : strategy.kind === 'linear'
        ? `linear ${strategy.stepPercent}%`
        : `exponential ${strategy.startPercent}%x${strategy.growthFactor}`;
  const gates = [
    ...(plan.shapeGuard !== undefined
      ? [`shape guard ${plan.shapeGuard === 'off' ? 'off' : `${plan.shapeGuard.maxFactor}x`}`]
      : []),
    ...(plan.approvalTimeoutSeconds !== undefined
      ? [`approval timeout ${plan.approvalTimeoutSeconds}s`]
      : []),
  ];
  return [
    `${waves}, bake ${plan.bakeSeconds}s, approval ${plan.approval}, max failures ${plan.maxFailures}`,
    ...gates,
  ].join(', ');
}

function scopeOf(entry: RolloutPlanEntry): string {
  return entry.service ? `${entry.selector} (service ${entry.service})` : entry.selector;
}
