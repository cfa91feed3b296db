import type { ConfigStore } from '../activities/storage/configStore';
import type {
  ConfigAddress,
  ConfigVersion,
  HistoryPage,
  HistoryPageRequest,
} from '../activities/storage/types';
import { NotFoundError } from '../common/errors';

export interface ConfigCacheOptions {
  /** How long a live value may be served from memory before it is read again; 0 turns caching off. */
  readonly ttlMs: number;
  readonly maxEntries: number;
  /** Bound on what entries hold, keys and values counted: entry counts alone let large values pin memory. */
  readonly maxBytes: number;
  /**
   * How long "not found" is remembered, so reads of a missing key do not each reach the store. At most
   * `ttlMs`: a key that becomes live is then served within the same bound as a changed one.
   */
  readonly negativeTtlMs: number;
}

/** A cached answer: the live value, or the key's absence. */
type Answer =
  | { readonly value: ConfigVersion }
  | { readonly missing: { readonly message: string; readonly field?: string } };

interface CacheEntry {
  readonly answer: Answer;
  readonly bytes: number;
  readonly expiresAt: number;
}

/** What an entry costs besides its strings: the Map slot, the objects, numbers and dates. */
const ENTRY_OVERHEAD_BYTES = 200;

/**
 * Live-config reads with an in-memory cache in front of the storage strategies. The tenant is part of
 * every cache key, so one tenant's entry can never answer another's read. Entries live `ttlMs` from the
 * moment their read began (`negativeTtlMs` for a missing key), so no answer is served longer than `ttlMs`
 * after the store stopped holding it: the bound a rollout waits out after promoting
 * (workflows/rolloutWorkflow.ts). Concurrent misses for one key share a single backend read while it is
 * younger than the TTL (so never with caching off). Entries and their bytes are both bounded; the least
 * recently stored go first.
 */
export class CachedConfigReader {
  private readonly entries = new Map<string, CacheEntry>();
  private readonly inFlight = new Map<string, { read: Promise<ConfigVersion>; startedAt: number }>();
  private heldBytes = 0;

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
    if (cached && cached.expiresAt > this.now()) return answerOf(cached.answer);

    // A read that began longer than the TTL ago may answer what the store held before a promotion the
    // rollout has since waited out: it is not shared, so no caller gets an answer older than the TTL.
    const pending = this.inFlight.get(cacheKey);
    if (pending && this.now() - pending.startedAt < this.options.ttlMs) return pending.read;
    const startedAt = this.now();
    const read = this.store
      .getLive(address)
      .then(
        (value) => {
          this.remember(cacheKey, { value }, startedAt);
          return value;
        },
        (error: unknown) => {
          if (error instanceof NotFoundError) {
            this.remember(cacheKey, { missing: { message: error.message, field: error.field } }, startedAt);
          }
          throw error;
        },
      )
      .finally(() => {
        if (this.inFlight.get(cacheKey)?.read === read) this.inFlight.delete(cacheKey);
      });
    this.inFlight.set(cacheKey, { read, startedAt });
    return read;
  }

  /**
   * The live value when memory holds it within the same bound `getLive` serves it, else undefined (for a
   * remembered absence too): lets a read from memory answer without a promise. Reads nothing.
   */
  cachedLive(requested: ConfigAddress): ConfigVersion | undefined {
    const address = this.store.address(requested.tenantId, requested.key, requested.service);
    const cached = this.entries.get(keyOf(address));
    if (!cached || cached.expiresAt <= this.now() || !('value' in cached.answer)) return undefined;
    return cached.answer.value;
  }

  /** Versions never change once written, so explicit-version reads need no cache invalidation story. */
  getVersion(address: ConfigAddress, version: number): Promise<ConfigVersion> {
    return this.store.getVersion(address, version);
  }

  /** Whether the key has any version, live or not (uncached: asked only after a live read missed). */
  async exists(address: ConfigAddress): Promise<boolean> {
    return (await this.store.latest(address)) !== undefined;
  }

  historyPage(address: ConfigAddress, page: HistoryPageRequest): Promise<HistoryPage> {
    return this.store.historyPage(address, page);
  }

  list(tenantId: string, service?: string): Promise<ConfigVersion[]> {
    return this.store.list(tenantId, service);
  }

  get size(): number {
    return this.entries.size;
  }

  /** What the entries hold, by the same count `maxBytes` bounds. */
  get bytes(): number {
    return this.heldBytes;
  }

  private remember(cacheKey: string, answer: Answer, readStartedAt: number): void {
    const ttlMs = 'value' in answer ? this.options.ttlMs : this.options.negativeTtlMs;
    // Nothing to keep when caching is off, or when the read took so long that its answer has expired.
    if (readStartedAt + ttlMs <= this.now()) return;
    const bytes = sizeOf(cacheKey, answer);
    this.forget(cacheKey);
    if (bytes > this.options.maxBytes) return;
    this.entries.set(cacheKey, { answer, bytes, expiresAt: readStartedAt + ttlMs });
    this.heldBytes += bytes;
    // Map iteration is insertion order: the first entry is the least recently stored.
    while (this.entries.size > this.options.maxEntries || this.heldBytes > this.options.maxBytes) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.forget(oldest);
    }
  }

  private forget(cacheKey: string): void {
    const entry = this.entries.get(cacheKey);
    if (!entry) return;
    this.entries.delete(cacheKey);
    this.heldBytes -= entry.bytes;
  }
}

function answerOf(answer: Answer): ConfigVersion {
  if ('value' in answer) return answer.value;
  throw new NotFoundError(answer.missing.message, answer.missing.field);
}

function keyOf(address: ConfigAddress): string {
  return JSON.stringify([address.tenantId, address.service ?? '', address.key]);
}

/** Strings at two bytes a character, as V8 may hold them, and the rest as a fixed overhead. */
function sizeOf(cacheKey: string, answer: Answer): number {
  const strings =
    'value' in answer
      ? [cacheKey, answer.value.key, answer.value.service ?? '', answer.value.value, answer.value.updatedAt]
      : [cacheKey, answer.missing.message];
  return strings.reduce((total, text) => total + 2 * text.length, ENTRY_OVERHEAD_BYTES);
}
