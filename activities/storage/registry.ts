import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SSMClient } from '@aws-sdk/client-ssm';
import { UnknownPrefixError } from '../../common/errors';
import type { StorageSettings } from '../../common/settings';
import { DynamoDbConfigStrategy } from './dynamoDbStrategy';
import { SsmConfigStrategy } from './ssmStrategy';
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
