import type { RolloutPlanEntry } from '../../common/api/plans';
import { CANARY_DEFAULTS, type CanaryPlan, type RolloutPlan } from '../../common/rollout';
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
    ...(plan.alarms?.length
      ? [
          `alarms ${plan.alarms.map((alarm) => ('name' in alarm ? alarm.name : `${alarm.prefix}*`)).join(' ')}`,
        ]
      : []),
    ...(plan.canary ? [formatCanaryPlan(plan.canary)] : []),
  ];
  return [
    `${waves}, bake ${plan.bakeSeconds}s, approval ${plan.approval}, max failures ${plan.maxFailures}`,
    ...gates,
  ].join(', ');
}

/** `canary (min 100 samples, 95% confidence, +300s bake, fail when insufficient)`, defaults filled in. */
function formatCanaryPlan(canary: CanaryPlan): string {
  const { minSamples, confidence, maxExtraBakeSeconds, onInsufficientSamples } = {
    ...CANARY_DEFAULTS,
    ...canary,
  };
  return (
    `canary (min ${minSamples} samples, ${confidence * 100}% confidence, +${maxExtraBakeSeconds}s bake, ` +
    `${onInsufficientSamples} when insufficient)`
  );
}

function scopeOf(entry: RolloutPlanEntry): string {
  return entry.service ? `${entry.selector} (service ${entry.service})` : entry.selector;
}
