import { STRATEGY_TABLE } from '../../activities/storage/registry';
import { SsmConfigStrategy } from '../../activities/storage/ssmStrategy';
import {
  assertPlanScope,
  choosePlan,
  completePlan,
  DEFAULT_OUT_OF_BAND_PLAN,
  describeChosenPlan,
  MAX_PLAN_BYTES,
  OUT_OF_BAND_KEY_PREFIX,
  type PlanScope,
  type StoredPlan,
} from '../../common/outOfBandPlans';
import type { InvalidArgumentError } from '../../common/errors';
import type { RolloutPlan } from '../../common/rollout';

/** Which stored plan an out-of-band edit takes: exact key, then longest prefix, then the default. */
const plan = (bakeSeconds: number): RolloutPlan => ({ ...DEFAULT_OUT_OF_BAND_PLAN, bakeSeconds });
const stored = (selector: string, bakeSeconds: number, service?: string): StoredPlan => ({
  selector,
  ...(service ? { service } : {}),
  plan: plan(bakeSeconds),
  updatedAt: '2026-12-01T00:00:00.000Z',
  updatedBy: 'rm',
});
const FALLBACK = plan(999);

const PLANS = [
  stored('param_config_*', 1),
  stored('param_config_flag_*', 2),
  stored('param_config_flag_*', 3, 'orders'),
  stored('param_config_flag_beta', 4),
  stored('param_config_flag_beta', 5, 'orders'),
  stored('param_config_flag_b*', 6),
];

test.each([
  ['param_config_flag_beta', 'orders', 5, 'param_config_flag_beta (service orders)'],
  ['param_config_flag_beta', 'billing', 4, 'param_config_flag_beta'],
  // The longest prefix wins over a shorter one for the service.
  ['param_config_flag_blue', 'orders', 6, 'param_config_flag_b*'],
  ['param_config_flag_red', 'orders', 3, 'param_config_flag_* (service orders)'],
  ['param_config_flag_red', 'billing', 2, 'param_config_flag_*'],
  ['param_config_endpoint', 'orders', 1, 'param_config_*'],
])('%s of %s takes bake %i (%s)', (key, service, bake, described) => {
  const chosen = choosePlan(PLANS, { key, service }, FALLBACK);
  expect(chosen.plan.bakeSeconds).toBe(bake);
  expect(describeChosenPlan(chosen)).toBe(described);
});

test('no match, or only other services’ plans, takes the fallback and says "default"', () => {
  const chosen = choosePlan(
    [stored('param_config_x', 1, 'orders')],
    { key: 'param_config_x', service: 'billing' },
    FALLBACK,
  );
  expect(chosen).toEqual({ source: 'default', plan: FALLBACK });
  expect(describeChosenPlan(chosen)).toBe('default');
  expect(choosePlan([], { key: 'param_config_x', service: 'a' }, FALLBACK).plan).toBe(FALLBACK);
});

test('selectors must be able to match a Parameter Store key, and that prefix is the registry’s', () => {
  expect(
    STRATEGY_TABLE.find((entry) => entry.prefix === OUT_OF_BAND_KEY_PREFIX)?.create.toString(),
  ).toContain(SsmConfigStrategy.name);
  for (const selector of ['param_config_x', 'param_config_*', 'param_*', 'p*', 'param_config_a.b-c*']) {
    expect(() => assertPlanScope({ selector })).not.toThrow();
  }
  for (const selector of [
    '',
    '*',
    '**',
    'param_config_',
    'tenant_config_x',
    'x*',
    'a*b',
    'param_config_a..b',
    'param_config_#x',
  ]) {
    expect(fieldRefusing({ selector })).toBe('selector');
  }
  expect(fieldRefusing({ selector: 'param_config_x', service: '../x' })).toBe('service');
});

function fieldRefusing(scope: PlanScope): string | undefined {
  try {
    assertPlanScope(scope);
    return undefined;
  } catch (error) {
    return (error as InvalidArgumentError).field;
  }
}

test('a plan is bounded in bytes whatever its fields: one past the bound is refused naming the plan', () => {
  // The REST schema refuses unknown fields first; this bound holds for every caller of completePlan.
  const oversized = { bakeSeconds: 0, note: 'x'.repeat(MAX_PLAN_BYTES) } as Partial<RolloutPlan>;
  expect(() => completePlan(oversized)).toThrow(
    expect.objectContaining({ code: 'InvalidArgument', field: 'plan' }) as InvalidArgumentError,
  );
  expect(completePlan({ bakeSeconds: 0 })).toMatchObject({ ...DEFAULT_OUT_OF_BAND_PLAN, bakeSeconds: 0 });
});
