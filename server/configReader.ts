import type { ConfigStore } from '../activities/storage/configStore';
import type { ConfigAddress } from '../common/configAddress';
import type { ConfigVersion, HistoryPage, HistoryPageRequest } from '../activities/storage/types';
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
  /** Told of each lookup and backend read, for the service's metrics. */
  readonly observer?: ReadObserver;
}

/** What the reader reports of its work: whether memory answered, and how each backend read went. */
export interface ReadObserver {
  cacheLookup(hit: boolean): void;
  backendRead(backend: string | undefined, outcome: 'ok' | 'not_found' | 'error', seconds: number): void;
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

/** The reads of one key under way, and the notices it has had since the oldest of them began. */
interface KeyEpoch {
  generation: number;
  reads: number;
}

/** What a read saw when it began: its key's generation, and the caching switch then in force. */
interface ReadStart {
  readonly generation: number;
  readonly caching: { readonly on: boolean };
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
 *
 * A promotion's notice (`invalidate`, server/readCache/noticeServer.ts) drops the key's entry at once, so
 * the rollout need not wait the TTL out. A read under way when the notice came may still answer the old
 * state: it answers its caller, but its key's generation has moved on, so it cannot store that answer
 * again. Generations are kept only while a key has reads under way, so they cost nothing at rest.
 */
export class CachedConfigReader {
  private readonly entries = new Map<string, CacheEntry>();
  private readonly inFlight = new Map<string, { read: Promise<ConfigVersion>; startedAt: number }>();
  private heldBytes = 0;
  private readonly epochs = new Map<string, KeyEpoch>();
  /**
   * Whether answers are kept; replaced at each switch, so a read that began before one stores nothing. A replica keeps nothing while it is not findable, so no promotion's notice can miss it.
   */
  private caching: { readonly on: boolean } = { on: true };

  constructor(
    private readonly store: ConfigStore,
    private readonly options: ConfigCacheOptions,
    private readonly now: () => number = Date.now,
  ) {}

  async getLive(requested: ConfigAddress): Promise<ConfigVersion> {
    // Only a checked address makes a cache key: raw input would let any caller pin what it likes.
    const address = this.store.address(requested.tenantId, requested.key, requested.service);
    const cacheKey = keyOf(address);
    const cached = this.freshEntry(cacheKey);
    this.options.observer?.cacheLookup(cached !== undefined);
    if (cached) return answerOf(cached.answer);

    // A read that began longer than the TTL ago may answer what the store held before a promotion the
    // rollout has since waited out: it is not shared, so no caller gets an answer older than the TTL.
    const pending = this.inFlight.get(cacheKey);
    if (pending && this.now() - pending.startedAt < this.options.ttlMs) return pending.read;
    const startedAt = this.now();
    const began = this.beginRead(cacheKey);
    const observed = (outcome: 'ok' | 'not_found' | 'error') =>
      this.options.observer?.backendRead(
        this.store.backendOf(address.key),
        outcome,
        (this.now() - startedAt) / 1000,
      );
    const read = this.store
      .getLive(address)
      .then(
        (value) => {
          observed('ok');
          this.remember(cacheKey, { value }, startedAt, began);
          return value;
        },
        (error: unknown) => {
          observed(error instanceof NotFoundError ? 'not_found' : 'error');
          if (error instanceof NotFoundError) {
            const missing = { message: error.message, field: error.field };
            this.remember(cacheKey, { missing }, startedAt, began);
          }
          throw error;
        },
      )
      .finally(() => {
        this.endRead(cacheKey);
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
    const cached = this.freshEntry(keyOf(address));
    if (!cached || !('value' in cached.answer)) return undefined;
    // A miss here is counted by the getLive that follows it.
    this.options.observer?.cacheLookup(true);
    return cached.answer.value;
  }

  /** The entry for `cacheKey` while it may still be served: one rule for `getLive` and `cachedLive`. */
  private freshEntry(cacheKey: string): CacheEntry | undefined {
    const cached = this.entries.get(cacheKey);
    return cached && cached.expiresAt > this.now() ? cached : undefined;
  }

  /**
   * A promotion or removal of this key is in the store: its cached answer goes, and no read under way
   * (which may have answered the old state) may store its answer or be shared with later reads. Only
   * this tenant's entry for this key: the address is checked and normalized as reads' are. Answers
   * whether an entry was held.
   */
  invalidate(requested: ConfigAddress): boolean {
    const cacheKey = keyOf(this.store.address(requested.tenantId, requested.key, requested.service));
    const epoch = this.epochs.get(cacheKey);
    if (epoch) epoch.generation += 1;
    this.inFlight.delete(cacheKey);
    const held = this.entries.has(cacheKey);
    this.forget(cacheKey);
    return held;
  }

  /**
   * Turns keeping answers on or off. Off drops every entry; either way, no read that began before the
   * switch stores its answer.
   */
  setCaching(on: boolean): void {
    this.caching = { on };
    this.inFlight.clear();
    if (!on) for (const cacheKey of [...this.entries.keys()]) this.forget(cacheKey);
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

  /** The backend a key's reads go to, for metrics: bounded by the registered prefixes. */
  backendOf(key: unknown): string | undefined {
    return typeof key === 'string' ? this.store.backendOf(key) : undefined;
  }

  get size(): number {
    return this.entries.size;
  }

  /** What the entries hold, by the same count `maxBytes` bounds. */
  get bytes(): number {
    return this.heldBytes;
  }

  /** Counts a read of the key under way; answers what `remember` checks it against. */
  private beginRead(cacheKey: string): ReadStart {
    let epoch = this.epochs.get(cacheKey);
    if (!epoch) {
      epoch = { generation: 0, reads: 0 };
      this.epochs.set(cacheKey, epoch);
    }
    epoch.reads += 1;
    return { generation: epoch.generation, caching: this.caching };
  }

  private endRead(cacheKey: string): void {
    const epoch = this.epochs.get(cacheKey);
    if (epoch && --epoch.reads === 0) this.epochs.delete(cacheKey);
  }

  private remember(cacheKey: string, answer: Answer, readStartedAt: number, began: ReadStart): void {
    // A notice (or a switch of caching) came while this read was under way: its answer may be the old state.
    if (!began.caching.on || began.caching !== this.caching) return;
    if (this.epochs.get(cacheKey)?.generation !== began.generation) return;
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
