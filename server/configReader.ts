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
 * every cache key, so one tenant's entry can never answer another's read. Entries live `ttlMs` from the
 * moment their read began, so no value is served longer than `ttlMs` after the store stopped holding it:
 * the bound a rollout waits out after promoting (workflows/rolloutWorkflow.ts). Concurrent misses for
 * one key share a single backend read.
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
    const startedAt = this.now();
    const read = this.store
      .getLive(address)
      .then((value) => {
        this.remember(cacheKey, value, startedAt);
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

  get size(): number {
    return this.entries.size;
  }

  private remember(cacheKey: string, value: ConfigVersion, readStartedAt: number): void {
    if (this.options.ttlMs === 0) return;
    this.entries.delete(cacheKey);
    this.entries.set(cacheKey, { value, expiresAt: readStartedAt + this.options.ttlMs });
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
