import type { HeldValue } from '../../sdk';

export const FEATURE_FLAGS_KEY = 'tenant_config_featureFlags';

/**
 * The orders service's own rule for its feature flags: a JSON object of booleans. Anything else is a
 * broken rollout, which the service reports as NOT_SERVING so the rollout's health gate rolls it back.
 * Answers what is wrong, or undefined when the flags are fine (having none is fine).
 */
export function featureFlagsProblem(flags: HeldValue | undefined): string | undefined {
  if (!flags) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(flags.value);
  } catch {
    return 'feature flags are not JSON';
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return 'feature flags are not a JSON object';
  }
  const notBoolean = Object.entries(parsed).filter(([, value]) => typeof value !== 'boolean');
  // Only the flag names are reported: values stay out of logs.
  return notBoolean.length > 0
    ? `feature flags that are not booleans: ${notBoolean.map(([name]) => name).join(', ')}`
    : undefined;
}
