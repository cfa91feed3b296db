import type { ConfigAddress, ValueFormat } from '../../common/configAddress';

/** The contract every storage backend implements; the registry picks one per key by its prefix. */

export interface ConfigVersion {
  readonly key: string;
  readonly service?: string;
  readonly version: number;
  readonly value: string;
  readonly format: ValueFormat;
  /** ISO 8601, UTC. */
  readonly updatedAt: string;
  /**
   * Live reads, where the backend knows it: when the key's first version was written. A key deleted and
   * created again (versions numbered from 1 again) has a new one.
   */
  readonly createdAt?: string;
}

export interface HistoryEntry extends ConfigVersion {
  /** Whether this is the version cache-miss reads are served. */
  readonly live: boolean;
  /** The idempotency token of the write that made this version (a rollout id), if any. */
  readonly writeId?: string;
  /** A version written as a copy of an older one (a rollout back to it rolls forward to a copy). */
  readonly copyOf?: number;
}

export interface PutOptions {
  /** The newest version the writer saw, 0 for a key that does not exist yet. */
  readonly expectedVersion: number;
  /** Serve the new version at once (a direct edit) or keep it as a candidate for a rollout to promote. */
  readonly makeLive: boolean;
  /**
   * Makes the write idempotent: when the newest version was already written with this id (a retried
   * activity), that version is returned instead of a conflict.
   */
  readonly writeId?: string;
  /** Records the new version as a copy of this older one, in the key's history. */
  readonly copyOf?: number;
}

export interface HistoryPageRequest {
  readonly pageSize: number;
  /** Versions below this one: the last version of the previous page. */
  readonly before?: number;
}

export interface HistoryPage {
  readonly entries: HistoryEntry[];
  /** Whether older versions than the last entry are kept. */
  readonly more: boolean;
}

export interface ConfigStrategy {
  /** Human name of the backend, used in error messages. */
  readonly backend: string;
  readonly format: ValueFormat;
  readonly maxValueBytes: number;
  /** Whether values are kept per consuming service, so an address must name one. */
  readonly perService: boolean;

  getLive(address: ConfigAddress): Promise<ConfigVersion>;
  /** The newest version, live or not, with the write id that made it; undefined for a new key. */
  latest(address: ConfigAddress): Promise<HistoryEntry | undefined>;
  getVersion(address: ConfigAddress, version: number): Promise<ConfigVersion>;
  put(address: ConfigAddress, value: string, options: PutOptions): Promise<ConfigVersion>;
  /**
   * Makes a version live. Conditional: the live version never moves backwards, so a version older than
   * the live one is refused with a VersionConflictError (promoting the live version again is a no-op).
   */
  promote(address: ConfigAddress, version: number): Promise<void>;
  /** The live version of each of a tenant's keys in this backend. */
  list(tenantId: string, service?: string): Promise<ConfigVersion[]>;
  /** Every tenant this backend keeps a key of, live or not (for the reconciler's fleet-wide pass). */
  tenants(): Promise<string[]>;
  /** Every kept version, newest first. */
  history(address: ConfigAddress): Promise<HistoryEntry[]>;
  /** At most `pageSize` kept versions older than `before` (all when absent), newest first. */
  historyPage(address: ConfigAddress, page: HistoryPageRequest): Promise<HistoryPage>;
  /** Removes the key and its versions. */
  delete(address: ConfigAddress): Promise<void>;
}
