import {
  InvalidArgumentError,
  InvalidJsonError,
  NotFoundError,
  ValueTooLargeError,
  VersionConflictError,
  errorMessage,
} from '../../common/errors';
import { assertConfigKey, assertServiceName, assertTenantId } from '../../common/identifiers';
import type { StorageSettings } from '../../common/settings';
import { type RegisteredStrategy, type StorageClients, StrategyRegistry } from './registry';
import { SchemaPool } from './schemaPool';
import { type PutSchemaOptions, SchemaRegistry, type StoredSchema } from './schemaRegistry';
import type { ConfigAddress } from '../../common/configAddress';
import type { ConfigVersion, HistoryEntry, HistoryPage, HistoryPageRequest, PutOptions } from './types';

/** Versions in one page of a key's history: values may be 400 KB each. */
export const MAX_HISTORY_PAGE_SIZE = 100;
export const DEFAULT_HISTORY_PAGE_SIZE = 20;

/**
 * The store as every process builds it: the registered backends, value schemas in their own table, and
 * the threads that evaluate them.
 */
export function configStoreFor(clients: StorageClients, settings: StorageSettings): ConfigStore {
  return new ConfigStore(StrategyRegistry.fromTable(clients, settings), {
    registry: new SchemaRegistry(clients.dynamodb, settings.schemaTableName),
    pool: new SchemaPool(settings.schemaEvaluation),
  });
}

/** Where value schemas are kept, and where they are compiled and run (never on the caller's event loop). */
export interface ValueSchemas {
  readonly registry: SchemaRegistry;
  readonly pool: SchemaPool;
}

/**
 * The one entry point to configuration storage: validates names and values (against the key's schema
 * where its tenant set one), routes each key to its backend by prefix, and keeps the tenant in every lookup.
 */
export class ConfigStore {
  constructor(
    private readonly registry: StrategyRegistry,
    private readonly schemas?: ValueSchemas,
  ) {}

  get prefixes(): string[] {
    return this.registry.prefixes;
  }

  /** The threads that evaluate schemas, for their counters. */
  get schemaPool(): SchemaPool | undefined {
    return this.schemas?.pool;
  }

  /** Ends the schema threads (idle ones keep no process alive; this is for an orderly stop). */
  async close(): Promise<void> {
    await this.schemas?.pool.close();
  }

  /**
   * The address as storage keys it: a tenant-wide key names no service. Whatever identifies a key
   * elsewhere (a rollout's workflow id, its lock) is derived from this, so one stored key has one name.
   */
  normalize(address: ConfigAddress): ConfigAddress {
    return this.route(address).normalized;
  }

  /** A checked, normalized address from request input (see StrategyRegistry.address). */
  address(tenantId: string, key: unknown, service: unknown): ConfigAddress {
    return this.registry.address(tenantId, key, service);
  }

  /** The backend a key's prefix routes to, undefined for a key of no known prefix: a bounded name. */
  backendOf(key: string): string | undefined {
    try {
      return this.registry.resolve(key).strategy.backend;
    } catch {
      return undefined;
    }
  }

  async getLive(address: ConfigAddress): Promise<ConfigVersion> {
    const { strategy, normalized } = this.route(address);
    return strategy.getLive(normalized);
  }

  async latest(address: ConfigAddress): Promise<HistoryEntry | undefined> {
    const { strategy, normalized } = this.route(address);
    return strategy.latest(normalized);
  }

  async getVersion(address: ConfigAddress, version: number): Promise<ConfigVersion> {
    assertVersion(version, 'version');
    const { strategy, normalized } = this.route(address);
    return strategy.getVersion(normalized, version);
  }

  async put(address: ConfigAddress, value: unknown, options: PutOptions): Promise<ConfigVersion> {
    assertVersion(options.expectedVersion, 'expectedVersion', 0);
    const { strategy, normalized } = this.route(address);
    const text = await this.checkedValue(strategy, normalized, value);
    return strategy.put(normalized, text, options);
  }

  async promote(address: ConfigAddress, version: number): Promise<void> {
    assertVersion(version, 'version');
    const { strategy, normalized } = this.route(address);
    return strategy.promote(normalized, version);
  }

  async history(address: ConfigAddress): Promise<HistoryEntry[]> {
    const { strategy, normalized } = this.route(address);
    return strategy.history(normalized);
  }

  async historyPage(address: ConfigAddress, page: HistoryPageRequest): Promise<HistoryPage> {
    if (!Number.isSafeInteger(page.pageSize) || page.pageSize < 1 || page.pageSize > MAX_HISTORY_PAGE_SIZE) {
      throw new InvalidArgumentError(
        `pageSize must be an integer from 1 to ${MAX_HISTORY_PAGE_SIZE}`,
        'pageSize',
      );
    }
    if (page.before !== undefined) assertVersion(page.before, 'pageToken');
    const { strategy, normalized } = this.route(address);
    return strategy.historyPage(normalized, page);
  }

  async delete(address: ConfigAddress): Promise<void> {
    const { strategy, normalized } = this.route(address);
    return strategy.delete(normalized);
  }

  /** A tenant's live configuration across every backend, optionally narrowed to one service. */
  async list(tenantId: string, service?: string): Promise<ConfigVersion[]> {
    assertTenantId(tenantId);
    if (service !== undefined) assertServiceName(service);
    const perBackend = await Promise.all(
      this.registry.all.map(async ({ prefix, strategy }) =>
        // A backend may hold names outside the platform's key space (written by hand); show only ours.
        (await strategy.list(tenantId, service)).filter((entry) => this.owns(prefix, entry.key)),
      ),
    );
    return perBackend.flat();
  }

  /** Every tenant any backend keeps a key of. */
  async tenants(): Promise<string[]> {
    const perBackend = await Promise.all(this.registry.all.map(({ strategy }) => strategy.tenants()));
    return [...new Set(perBackend.flat())].sort();
  }

  /** The validation a write gets, without writing: lets callers reject bad input before any work starts. */
  async validate(address: ConfigAddress, value: unknown): Promise<void> {
    const { strategy, normalized } = this.route(address);
    await this.checkedValue(strategy, normalized, value);
  }

  async getSchema(tenantId: string, key: string): Promise<StoredSchema> {
    this.routeKey(tenantId, key);
    const stored = await this.requireSchemas().registry.get(tenantId, key);
    if (!stored) throw new NotFoundError(`no schema is set for "${key}"`, 'key');
    return stored;
  }

  /** Sets the schema new values of a key must match; one that does not compile is refused as it is. */
  async putSchema(
    tenantId: string,
    key: string,
    schema: unknown,
    options: PutSchemaOptions,
  ): Promise<StoredSchema> {
    this.routeKey(tenantId, key);
    const { registry, pool } = this.requireSchemas();
    const expected = options.expectedVersion;
    if (expected !== undefined) {
      assertVersion(expected, 'expectedVersion', 0);
      // Compiling is the expensive part: a write that would lose its race anyway is refused first. The
      // write below stays conditional, for a change made while the schema compiles.
      const current = (await registry.get(tenantId, key))?.version ?? 0;
      if (current !== expected) throw new VersionConflictError(key, expected, current);
    }
    await pool.check(tenantId, schema);
    return registry.put(tenantId, key, schema as object, options);
  }

  async deleteSchema(tenantId: string, key: string): Promise<void> {
    this.routeKey(tenantId, key);
    return this.requireSchemas().registry.delete(tenantId, key);
  }

  async listSchemas(tenantId: string): Promise<StoredSchema[]> {
    assertTenantId(tenantId);
    return this.requireSchemas().registry.list(tenantId);
  }

  private requireSchemas(): ValueSchemas {
    if (!this.schemas) throw new Error('this ConfigStore was built without a schema registry');
    return this.schemas;
  }

  /** A schema is per tenant and key (every service's values of a per-service key share it). */
  private routeKey(tenantId: string, key: string): void {
    this.registry.resolveKey(tenantId, key);
  }

  private owns(prefix: string, key: string): boolean {
    try {
      assertConfigKey(key);
      return this.registry.resolve(key).prefix === prefix;
    } catch {
      return false;
    }
  }

  private route(address: ConfigAddress): RegisteredStrategy & { normalized: ConfigAddress } {
    const normalized = this.registry.address(address.tenantId, address.key, address.service);
    return { ...this.registry.resolve(normalized.key), normalized };
  }

  /** The value as the backend will store it, once it passes every check; throws naming the first failure. */
  private async checkedValue(
    strategy: RegisteredStrategy['strategy'],
    address: ConfigAddress,
    value: unknown,
  ): Promise<string> {
    const key = address.key;
    if (typeof value !== 'string') throw new InvalidArgumentError('value must be a string', 'value');
    if (value.length === 0) throw new InvalidArgumentError('value must not be empty', 'value');
    const size = Buffer.byteLength(value, 'utf8');
    if (size > strategy.maxValueBytes)
      throw new ValueTooLargeError(strategy.backend, size, strategy.maxValueBytes);
    if (strategy.format === 'json') {
      try {
        JSON.parse(value);
      } catch (error) {
        throw new InvalidJsonError(key, errorMessage(error));
      }
    }
    if (!this.schemas) return value;
    const stored = await this.schemas.registry.get(address.tenantId, key);
    if (stored)
      await this.schemas.pool.validate(address.tenantId, key, strategy.format, value, stored.schema);
    return value;
  }
}

function assertVersion(version: number, field: string, min = 1): void {
  if (!Number.isSafeInteger(version) || version < min) {
    throw new InvalidArgumentError(`${field} must be an integer of at least ${min}`, field);
  }
}
