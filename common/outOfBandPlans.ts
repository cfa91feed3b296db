import type { RolloutPlanEntry } from './api/plans';
import { InvalidArgumentError } from './errors';
import { assertServiceName, CONFIG_KEY_PATTERN } from './identifiers';
import type { RolloutPlan } from './rollout';
import { planProblems } from './rolloutPlan';

/**
 * Per-key default plans for out-of-band Parameter Store edits: a tenant's release managers choose the
 * plan the Parameter Store Change Lambda rolls an edited key out with (all at once for a hot endpoint,
 * staged for a risky flag). Plain data and pure functions, shared by the API and the Lambda.
 */

/** Out-of-band edits roll out more cautiously than nothing, less than a hand-steered release. */
export const DEFAULT_OUT_OF_BAND_PLAN: RolloutPlan = {
  strategy: { kind: 'explicit', waves: [1, '50%', '100%'] },
  bakeSeconds: 30,
  approval: 'none',
  maxFailures: 0,
};

/**
 * Only Parameter Store keys are ever edited out of band (activities/storage/registry.ts maps this prefix
 * to Parameter Store): a selector that cannot match one would be a plan nothing ever uses.
 */
export const OUT_OF_BAND_KEY_PREFIX = 'param_config_';

/**
 * Bounds per tenant: the Lambda reads all of a tenant's plans in one Query on every edit, so their count
 * and size bound its read (100 plans of at most 4 KiB: under one 1 MB Query page).
 */
export const MAX_PLANS_PER_TENANT = 100;
export const MAX_PLAN_BYTES = 4096;

/** A key (`param_config_endpoint`), or a key prefix with a trailing `*` (`param_config_flag_*`). */
export type PlanSelector = string;

/**
 * A plan as stored, with who set it and when (ISO 8601, UTC): what GET /v1/rollout-plans answers, so the
 * REST contract's RolloutPlanEntry declares its fields.
 */
export type StoredPlan = RolloutPlanEntry;

/** Where a plan applies: a selector, and optionally one service (else every service of the tenant). */
export type PlanScope = Pick<StoredPlan, 'selector' | 'service'>;

/** The plan an edit rolls out with, and where it came from: a stored plan's scope, or the default. */
export type ChosenPlan =
  | { readonly source: 'default'; readonly plan: RolloutPlan }
  | { readonly source: 'selector'; readonly scope: PlanScope; readonly plan: RolloutPlan };

/** Refuses a scope outside the grammar, naming the field: the selector ends up in a storage key. */
export function assertPlanScope(scope: PlanScope): void {
  const { selector, service } = scope;
  const isPrefix = selector.endsWith('*');
  const body = isPrefix ? selector.slice(0, -1) : selector;
  if (body.length === 0 || !CONFIG_KEY_PATTERN.test(body) || body.includes('..')) {
    throw new InvalidArgumentError(
      'selector: a config key, or a key prefix ending in "*" (1-128 letters, digits, "_", "-" or ".", no "..")',
      'selector',
    );
  }
  const reachable = isPrefix
    ? body.startsWith(OUT_OF_BAND_KEY_PREFIX) || OUT_OF_BAND_KEY_PREFIX.startsWith(body)
    : body.startsWith(OUT_OF_BAND_KEY_PREFIX) && body.length > OUT_OF_BAND_KEY_PREFIX.length;
  if (!reachable) {
    throw new InvalidArgumentError(
      `selector: only ${OUT_OF_BAND_KEY_PREFIX} keys (Parameter Store) are edited out of band; ` +
        `"${selector}" would match none`,
      'selector',
    );
  }
  if (service !== undefined) assertServiceName(service);
}

/** A plan as given (omitted fields take the out-of-band default), checked like the API checks a start. */
export function completePlan(given: Partial<RolloutPlan>): RolloutPlan {
  const plan: RolloutPlan = { ...DEFAULT_OUT_OF_BAND_PLAN, ...given };
  const [problem] = planProblems(plan);
  if (problem) throw new InvalidArgumentError(problem, problem.split(':')[0]);
  if (Buffer.byteLength(JSON.stringify(plan)) > MAX_PLAN_BYTES) {
    throw new InvalidArgumentError(`plan: at most ${MAX_PLAN_BYTES} bytes as JSON`, 'plan');
  }
  return plan;
}

/**
 * The plan for an edit of `key` of `service`: the exact key's (its service's before every service's),
 * else the longest matching prefix's (at equal length, the service's first), else `fallback`.
 */
export function choosePlan(
  plans: readonly StoredPlan[],
  target: { readonly key: string; readonly service: string },
  fallback: RolloutPlan,
): ChosenPlan {
  let best: { plan: StoredPlan; rank: number } | undefined;
  for (const stored of plans) {
    if (stored.service !== undefined && stored.service !== target.service) continue;
    const rank = rankOf(stored.selector, target.key);
    if (rank === undefined) continue;
    // Two ranks per selector length: a plan for the service outranks one for every service.
    const ranked = rank * 2 + (stored.service === undefined ? 0 : 1);
    if (!best || ranked > best.rank) best = { plan: stored, rank: ranked };
  }
  if (!best) return { source: 'default', plan: fallback };
  const { selector, service, plan } = best.plan;
  return { source: 'selector', scope: { selector, ...(service ? { service } : {}) }, plan };
}

/** Above any prefix's length (keys are at most 128 characters). */
const EXACT_MATCH_RANK = 1000;

/** How specific a match is: an exact key beats any prefix; a longer prefix beats a shorter one. */
function rankOf(selector: PlanSelector, key: string): number | undefined {
  if (!selector.endsWith('*')) return selector === key ? EXACT_MATCH_RANK : undefined;
  const prefix = selector.slice(0, -1);
  return key.startsWith(prefix) ? prefix.length : undefined;
}

/** How logs and outcomes name the plan used: `param_config_flag_*`, `… (service orders)` or `default`. */
export function describeChosenPlan(chosen: ChosenPlan): string {
  if (chosen.source === 'default') return 'default';
  const { selector, service } = chosen.scope;
  return service ? `${selector} (service ${service})` : selector;
}
