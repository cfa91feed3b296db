import type { ConfigStore } from '../activities/storage/configStore';
import type { ConfigAddress, ConfigVersion, HistoryEntry } from '../activities/storage/types';

export interface ConfigCacheOptions {
  /** How long a live value may be served from memory before it is read again; 0 turns caching off. */
  readonly ttlMs: number;
  readonly maxEntries: number;
}

interface CacheEntry {
  readonly value: ConfigVersion;
  readonly expiresAt: number;
}

/**
 * Live-config reads with an in-memory cache in front of the storage strategies. The tenant is part of
 * every cache key, so one tenant's entry can never answer another's read. A promotion invalidates by
 * version (`invalidate`), the TTL bounds staleness should an invalidation be missed, and concurrent
 * misses for one key share a single backend read.
 */
export class CachedConfigReader {
  private readonly entries = new Map<string, CacheEntry>();
  private readonly inFlight = new Map<string, Promise<ConfigVersion>>();

  constructor(
    private readonly store: ConfigStore,
    private readonly options: ConfigCacheOptions,
    private readonly now: () => number = Date.now,
  ) {}

  async getLive(address: ConfigAddress): Promise<ConfigVersion> {
    const cacheKey = keyOf(address);
    const cached = this.entries.get(cacheKey);
    if (cached && cached.expiresAt > this.now()) return cached.value;

    const pending = this.inFlight.get(cacheKey);
    if (pending) return pending;
    const read = this.store
      .getLive(address)
      .then((value) => {
        this.remember(cacheKey, value);
        return value;
      })
      .finally(() => this.inFlight.delete(cacheKey));
    this.inFlight.set(cacheKey, read);
    return read;
  }

  /** Versions never change once written, so explicit-version reads need no cache invalidation story. */
  getVersion(address: ConfigAddress, version: number): Promise<ConfigVersion> {
    return this.store.getVersion(address, version);
  }

  history(address: ConfigAddress): Promise<HistoryEntry[]> {
    return this.store.history(address);
  }

  list(tenantId: string, service?: string): Promise<ConfigVersion[]> {
    return this.store.list(tenantId, service);
  }

  /** Drops a cached value older than `version` (a newer one was promoted), or any value when omitted. */
  invalidate(address: ConfigAddress, version?: number): void {
    const cacheKey = keyOf(address);
    const cached = this.entries.get(cacheKey);
    if (cached && (version === undefined || cached.value.version < version)) this.entries.delete(cacheKey);
  }

  get size(): number {
    return this.entries.size;
  }

  private remember(cacheKey: string, value: ConfigVersion): void {
    if (this.options.ttlMs === 0) return;
    this.entries.delete(cacheKey);
    this.entries.set(cacheKey, { value, expiresAt: this.now() + this.options.ttlMs });
    // Map iteration is insertion order: the first entry is the least recently stored.
    while (this.entries.size > this.options.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }
}

function keyOf(address: ConfigAddress): string {
  return JSON.stringify([address.tenantId, address.service ?? '', address.key]);
}
