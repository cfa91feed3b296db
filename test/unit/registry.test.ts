import { StrategyRegistry, STRATEGY_TABLE } from '../../activities/storage/registry';
import type { ConfigStrategy } from '../../activities/storage/types';
import { PlatformError, UnknownPrefixError } from '../../common/errors';
import { thrownBy } from '../support/thrown';

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

describe('the one place an address is made from input', () => {
  const registry = new StrategyRegistry([
    { prefix: 'tenant_config_', strategy: { perService: false } as ConfigStrategy },
    { prefix: 'param_config_', strategy: { perService: true } as ConfigStrategy },
  ]);

  test('a service given with a tenant-wide key is refused, naming the field service', () => {
    expect(
      thrownBy(() => registry.address('acme', 'tenant_config_flags', 'orders'), PlatformError),
    ).toMatchObject({
      code: 'InvalidArgument',
      field: 'service',
    });
    expect(registry.address('acme', 'tenant_config_flags', '')).toEqual({
      tenantId: 'acme',
      key: 'tenant_config_flags',
    });
  });

  test('a per-service key needs a service, and gets only a valid one', () => {
    expect(
      thrownBy(() => registry.address('acme', 'param_config_url', undefined), PlatformError),
    ).toMatchObject({
      field: 'service',
    });
    expect(registry.address('acme', 'param_config_url', 'orders')).toEqual({
      tenantId: 'acme',
      key: 'param_config_url',
      service: 'orders',
    });
  });

  test('megabyte inputs are refused by length, and the message quotes only their start', () => {
    const huge = 'a'.repeat(4 * 1024 * 1024);
    for (const [key, service, field] of [
      [`tenant_config_${huge}`, undefined, 'key'],
      ['param_config_url', huge, 'service'],
    ] as const) {
      const thrown = thrownBy(() => registry.address('acme', key, service), PlatformError);
      expect(thrown).toMatchObject({ field });
      expect((thrown as Error).message.length).toBeLessThan(300);
    }
    expect(
      thrownBy(() => registry.address('a'.repeat(65), 'tenant_config_flags', undefined), PlatformError),
    ).toMatchObject({
      field: 'tenantId',
    });
  });
});
