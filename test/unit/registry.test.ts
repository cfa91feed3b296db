import { StrategyRegistry, STRATEGY_TABLE } from '../../activities/storage/registry';
import type { ConfigStrategy } from '../../activities/storage/types';
import { UnknownPrefixError } from '../../common/errors';

const strategy = (backend: string) => ({ backend }) as unknown as ConfigStrategy;

describe('the prefix-to-strategy table', () => {
  test('routes tenant_config_ to DynamoDB and param_config_ to Parameter Store', () => {
    const registry = new StrategyRegistry(
      STRATEGY_TABLE.map((r) => ({ prefix: r.prefix, strategy: strategy(r.prefix) })),
    );
    expect(registry.resolve('tenant_config_flags').prefix).toBe('tenant_config_');
    expect(registry.resolve('param_config_endpoint').prefix).toBe('param_config_');
  });

  test('has no prefix that shadows another', () => {
    expect(
      () =>
        new StrategyRegistry(STRATEGY_TABLE.map((r) => ({ prefix: r.prefix, strategy: strategy(r.prefix) }))),
    ).not.toThrow();
  });

  test('refuses a table where one prefix starts another', () => {
    expect(
      () =>
        new StrategyRegistry([
          { prefix: 'param_config_', strategy: strategy('a') },
          { prefix: 'param_config_all', strategy: strategy('b') },
        ]),
    ).toThrow(/shadows/);
  });

  test('an unknown prefix, or a bare prefix with no name, is an UnknownPrefixError listing the known ones', () => {
    const registry = new StrategyRegistry([{ prefix: 'tenant_config_', strategy: strategy('a') }]);
    expect(() => registry.resolve('feature_flags')).toThrow(UnknownPrefixError);
    expect(() => registry.resolve('tenant_config_')).toThrow(/tenant_config_/);
  });
});
