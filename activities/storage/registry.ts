import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SSMClient } from '@aws-sdk/client-ssm';
import { InvalidArgumentError, UnknownPrefixError } from '../../common/errors';
import { assertConfigKey, assertServiceName, assertTenantId } from '../../common/identifiers';
import type { StorageSettings } from '../../common/settings';
import { DynamoDbConfigStrategy } from './dynamoDbStrategy';
import { SsmConfigStrategy } from './ssmStrategy';
import type { ConfigAddress } from '../../common/configAddress';
import type { ConfigStrategy } from './types';

export interface StorageClients {
  readonly dynamodb: DynamoDBClient;
  readonly ssm: SSMClient;
}

export interface StrategyRegistration {
  readonly prefix: string;
  readonly create: (clients: StorageClients, settings: StorageSettings) => ConfigStrategy;
}

/** A key's prefix names its backend. A new backend is one class and one line here. */
export const STRATEGY_TABLE: readonly StrategyRegistration[] = [
  { prefix: 'tenant_config_', create: (c, s) => new DynamoDbConfigStrategy(c.dynamodb, s.tableName) },
  { prefix: 'param_config_', create: (c, s) => new SsmConfigStrategy(c.ssm, s.ssmParameterTier) },
];

export interface RegisteredStrategy {
  readonly prefix: string;
  readonly strategy: ConfigStrategy;
}

export class StrategyRegistry {
  private readonly entries: readonly RegisteredStrategy[];

  constructor(entries: readonly RegisteredStrategy[]) {
    assertNoShadowing(entries.map((e) => e.prefix));
    this.entries = entries;
  }

  static fromTable(
    clients: StorageClients,
    settings: StorageSettings,
    table: readonly StrategyRegistration[] = STRATEGY_TABLE,
  ): StrategyRegistry {
    return new StrategyRegistry(
      table.map((r) => ({ prefix: r.prefix, strategy: r.create(clients, settings) })),
    );
  }

  get prefixes(): string[] {
    return this.entries.map((e) => e.prefix);
  }

  get all(): readonly RegisteredStrategy[] {
    return this.entries;
  }

  /**
   * The one place a ConfigAddress is made from input (a request, a rollout, a store call): every name
   * checked and bounded, and a service only where the key's backend keeps values per service. Caches,
   * locks and workflow ids are keyed on what this returns, so two spellings of one address cannot
   * take two slots, and a service sent with a tenant-wide key is refused rather than carried along.
   */
  address(tenantId: string, key: unknown, service: unknown): ConfigAddress {
    const { prefix, strategy } = this.resolveKey(tenantId, key);
    const given = service === undefined || service === '' ? undefined : service;
    if (!strategy.perService) {
      if (given !== undefined) {
        throw new InvalidArgumentError(
          `"${prefix}" keys are tenant-wide: send no service with them`,
          'service',
        );
      }
      return { tenantId, key: key as string };
    }
    if (given === undefined) {
      throw new InvalidArgumentError(`service is required for "${prefix}" keys`, 'service');
    }
    assertServiceName(given);
    return { tenantId, key: key as string, service: given };
  }

  /** Tenant and key checked, and the key's backend: for what is kept per tenant and key (schemas). */
  resolveKey(tenantId: string, key: unknown): RegisteredStrategy {
    assertTenantId(tenantId);
    assertConfigKey(key);
    return this.resolve(key);
  }

  /** The strategy for a key; an unknown prefix is an error, never a default. */
  resolve(key: string): RegisteredStrategy {
    const entry = this.entries.find((e) => key.startsWith(e.prefix) && key.length > e.prefix.length);
    if (!entry) throw new UnknownPrefixError(key, this.prefixes);
    return entry;
  }
}

/** Were one prefix to start another (`param_config_` and `param_config_all`), routing would depend on order. */
function assertNoShadowing(prefixes: readonly string[]): void {
  for (const a of prefixes) {
    if (a.length === 0) throw new Error('a storage prefix must not be empty');
    for (const b of prefixes) {
      if (a !== b && b.startsWith(a)) throw new Error(`storage prefix "${a}" shadows "${b}"`);
    }
  }
  if (new Set(prefixes).size !== prefixes.length) throw new Error('storage prefixes must be unique');
}
