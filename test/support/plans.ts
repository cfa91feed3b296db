import type { RolloutPlan } from '../../common/rollout';

/** Every instance in one wave, no bake, no approval, no failure allowed: the plan most tests roll out. */
export const allAtOnce = (overrides: Partial<RolloutPlan> = {}): RolloutPlan => ({
  strategy: { kind: 'explicit', waves: ['100%'] },
  bakeSeconds: 0,
  approval: 'none',
  maxFailures: 0,
  ...overrides,
});
