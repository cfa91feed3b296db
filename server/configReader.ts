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
 * one key share a single backend read while it is younger than the TTL (so never with caching off).
 */
export class CachedConfigReader {
  private readonly entries = new Map<string, CacheEntry>();
  private readonly inFlight = new Map<string, { read: Promise<ConfigVersion>; startedAt: number }>();

  constructor(
    private readonly store: ConfigStore,
    private readonly options: ConfigCacheOptions,
    private readonly now: () => number = Date.now,
  ) {}

  async getLive(requested: ConfigAddress): Promise<ConfigVersion> {
    // Only a checked address makes a cache key: raw input would let any caller pin what it likes.
    const address = this.store.address(requested.tenantId, requested.key, requested.service);
    const cacheKey = keyOf(address);
    const cached = this.entries.get(cacheKey);
    if (cached && cached.expiresAt > this.now()) return cached.value;

    // A read that began longer than the TTL ago may answer what the store held before a promotion the
    // rollout has since waited out: it is not shared, so no caller gets an answer older than the TTL.
    const pending = this.inFlight.get(cacheKey);
    if (pending && this.now() - pending.startedAt < this.options.ttlMs) return pending.read;
    const startedAt = this.now();
    const read = this.store
      .getLive(address)
      .then((value) => {
        this.remember(cacheKey, value, startedAt);
        return value;
      })
      .finally(() => {
        if (this.inFlight.get(cacheKey)?.read === read) this.inFlight.delete(cacheKey);
      });
    this.inFlight.set(cacheKey, { read, startedAt });
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
    // Nothing to keep when caching is off, or when the read took so long that its value has expired.
    if (readStartedAt + this.options.ttlMs <= this.now()) return;
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
