import { featureFlagsProblem } from '../../../examples/orders-service/featureFlags';

/** The example service's health rule: what makes it report NOT_SERVING during a rollout. */
const flags = (value: string) => ({ version: 1, value, format: 'json' as const });

describe('the orders example’s feature flags check', () => {
  test('accepts a JSON object of booleans, and no flags at all', () => {
    expect(featureFlagsProblem(flags('{"newCheckout":true,"beta":false}'))).toBeUndefined();
    expect(featureFlagsProblem(undefined)).toBeUndefined();
  });

  test('names the flags that are not booleans, without their values', () => {
    const problem = featureFlagsProblem(flags('{"newCheckout":"yes","beta":true,"limit":5}'));
    expect(problem).toBe('feature flags that are not booleans: newCheckout, limit');
    expect(problem).not.toContain('yes');
  });

  test.each(['[true]', '"on"', 'null', 'not json'])('refuses %s', (value) => {
    expect(featureFlagsProblem(flags(value))).toMatch(/not (JSON|a JSON object)/);
  });
});
