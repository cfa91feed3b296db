import type { ConfigAddress, ValueFormat } from '../common/configAddress';

/** One version of a key's value, as an instance holds it. */
export interface HeldValue {
  readonly version: number;
  readonly value: string;
  readonly format: ValueFormat;
}

/** A live value as ConfigService answers it. */
export interface LiveValue extends HeldValue {
  /**
   * Where ConfigService knows it: when the key's first version was written. A key deleted and created
   * again numbers its versions from 1 again, under a later `createdAt`.
   */
  readonly createdAt?: string;
}

/**
 * What made the held version change: a push or a rollback from a rollout, the periodic version check
 * finding a push was missed, or (rarely) a first load that finished after a push arrived and was newer.
 */
export type ChangeCause = 'push' | 'rollback' | 'version-check' | 'load';

export interface ConfigChange {
  readonly tenantId: string;
  readonly key: string;
  /** Set for per-service keys, absent for tenant-wide ones. */
  readonly service?: string;
  /** Undefined when nothing was held, or the key had been removed. */
  readonly previous: HeldValue | undefined;
  /** Undefined when the change removed the key. */
  readonly current: HeldValue | undefined;
  /** The held version after the change; for a removal, the removal's version. */
  readonly heldVersion: number;
  readonly cause: ChangeCause;
  readonly rolloutId?: string;
}

export type ChangeListener = (change: ConfigChange) => void | Promise<void>;

/** One push, validated: a value or a removal at `version`, optionally a rollback from `revertFrom`. */
export interface Delivery {
  readonly version: number;
  /** Undefined for a removal. */
  readonly value: Omit<HeldValue, 'version'> | undefined;
  /** Greater than zero for a rollback: replaces exactly this held version with `version`. */
  readonly revertFrom: number;
  readonly rolloutId?: string;
}

export interface DeliveryOutcome {
  /** The version held after the call (0: none). */
  readonly heldVersion: number;
  readonly applied: boolean;
}

interface Entry {
  readonly address: ConfigAddress;
  readonly heldVersion: number;
  /** The highest version ever delivered: nothing at or below it is applied again, except by a rollback. */
  readonly highWater: number;
  /** Undefined when the key is absent (never existed or removed). */
  readonly value: HeldValue | undefined;
  /**
   * Forgotten by a rolled-out removal: the store keeps the key until the removal's last wave, and a read
   * cache may serve it a little longer, so reads do not bring it back; a push does. Once reads have
   * reported the key absent for REMOVAL_SETTLE_MS, they count again (a lost push of the key created
   * anew is then caught like any other).
   */
  readonly forgotten?: boolean;
  /** When a read first reported a forgotten key absent from the store (ms since the epoch). */
  readonly absentSince?: number;
  /** The `createdAt` of the key's versions held (learned from reads; pushes keep it); unknown if absent. */
  readonly createdAt?: string;
  /**
   * Dropped by the version check (the key was gone): the `createdAt` of the versions dropped. A read
   * cache may still answer them a little longer; only a key created anew (a later one) is read back.
   */
  readonly removedCreatedAt?: string;
}

/**
 * How long reads must have found a removed key gone before a read may bring it back: far longer than a
 * config service may cache a value (CONFIG_CACHE_TTL_MS is at most 60 s).
 */
export const REMOVAL_SETTLE_MS = 5 * 60_000;

/**
 * The configuration an instance holds, per tenant, service and key (never by key alone), with the rules
 * that keep it consistent whatever order pushes, rollbacks and reads arrive in:
 *
 * - a push applies only when its version is above the high-water mark, so duplicates and late arrivals
 *   change nothing;
 * - a rollback applies only while the instance holds exactly the version it rolls back, and leaves the
 *   high-water mark where it was, so a late duplicate of the rolled-back push cannot bring it back; one
 *   that arrives before the push it rolls back raises the mark to that version, so the push is refused;
 * - a read from ConfigService (first load, version check) obeys the same mark, so the live version never
 *   replaces a newer candidate a rollout has pushed, and never brings back a key a rollout removed.
 *
 * Pure logic, no I/O: listeners are told synchronously, and their failures go to `onListenerError`.
 */
export class HeldConfig {
  private readonly entries = new Map<string, Entry>();
  private readonly listeners = new Map<string, Set<ChangeListener>>();

  constructor(
    private readonly onListenerError: (error: unknown, change: ConfigChange) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether anything (a value, or the knowledge that the key is absent) is held for the address. */
  has(address: ConfigAddress): boolean {
    return this.entries.has(entryKey(address));
  }

  /** The held value; undefined when nothing is held or the key is absent. */
  value(address: ConfigAddress): HeldValue | undefined {
    return this.entries.get(entryKey(address))?.value;
  }

  /** The held version (0: none); a removal's version while the key is removed. */
  heldVersion(address: ConfigAddress): number {
    return this.entries.get(entryKey(address))?.heldVersion ?? 0;
  }

  /** Every address the instance holds something for, absent keys included. */
  addresses(): ConfigAddress[] {
    return [...this.entries.values()].map((entry) => entry.address);
  }

  applyPush(address: ConfigAddress, delivery: Delivery): DeliveryOutcome {
    const entry = this.entries.get(entryKey(address));
    const isRollback = delivery.revertFrom > 0;
    // The key was deleted at its source, whose versions restart when the name is created again: the
    // high-water mark goes too, or the new version 1 would be refused.
    const isForget = !isRollback && delivery.version === 0 && delivery.value === undefined;
    const applies = isRollback
      ? entry?.heldVersion === delivery.revertFrom
      : isForget
        ? entry !== undefined && (entry.highWater > 0 || entry.value !== undefined)
        : delivery.version > (entry?.highWater ?? 0);
    if (!applies) {
      // Nothing held to forget, yet the key is gone: remember that, or a read answered from a cache that
      // still has it would bring it back. Nothing changed for listeners.
      if (isForget) this.entries.set(entryKey(address), absentAfterRemoval(address));
      if (isRollback) return this.applyEarlyRollback(address, entry, delivery);
      return { heldVersion: entry?.heldVersion ?? 0, applied: false };
    }

    const value = delivery.value && { version: delivery.version, ...delivery.value };
    this.replace(address, entry, {
      heldVersion: delivery.version,
      highWater: isForget ? 0 : Math.max(entry?.highWater ?? 0, delivery.version),
      forgotten: isForget,
      // A push stays within the key's versions; after a removal, whatever comes is a key created anew.
      ...(!isForget && entry?.createdAt ? { createdAt: entry.createdAt } : {}),
      value,
      cause: isRollback ? 'rollback' : 'push',
      rolloutId: delivery.rolloutId,
    });
    return { heldVersion: delivery.version, applied: true };
  }

  /**
   * A rollback reaching an instance that does not hold the version it rolls back: the candidate's push
   * is late (the instance was frozen or partitioned while the rollout gave up on it) or never came. The
   * rolled-back version is fenced off (the high-water mark rises to it), so the candidate's push, if it
   * still arrives, is refused; and an instance on something older than the version rolled back to takes
   * that version, which is live. Either way the instance ends on the live version, whatever the order.
   */
  private applyEarlyRollback(
    address: ConfigAddress,
    entry: Entry | undefined,
    delivery: Delivery,
  ): DeliveryOutcome {
    const highWater = Math.max(entry?.highWater ?? 0, delivery.revertFrom);
    const behind = delivery.value !== undefined && delivery.version > (entry?.heldVersion ?? 0);
    if (!behind) {
      this.entries.set(
        entryKey(address),
        entry
          ? { ...entry, highWater }
          : { address: normalized(address), heldVersion: 0, highWater, value: undefined },
      );
      return { heldVersion: entry?.heldVersion ?? 0, applied: false };
    }
    this.replace(address, entry, {
      heldVersion: delivery.version,
      highWater,
      ...(entry?.createdAt ? { createdAt: entry.createdAt } : {}),
      value: delivery.value && { version: delivery.version, ...delivery.value },
      cause: 'rollback',
      rolloutId: delivery.rolloutId,
    });
    return { heldVersion: delivery.version, applied: true };
  }

  /**
   * A live value read from ConfigService; undefined when the key does not exist. The first read of an
   * address holds it quietly (nothing changed for anyone listening); a later one that is newer than
   * everything delivered so far (a push that got lost) is a change, reported as `cause`. So is, for the
   * version check only, a key found absent (a removal that got lost: `live` undefined must then mean the
   * key does not exist, not that its first version is not live yet), and a key created anew since the
   * versions held (a later `createdAt`: its versions restart at 1, below the high-water mark).
   */
  applyRead(address: ConfigAddress, live: LiveValue | undefined, cause: ChangeCause): boolean {
    const key = entryKey(address);
    const entry = this.entries.get(key);
    if (!entry) {
      const version = live?.version ?? 0;
      this.entries.set(key, {
        address: normalized(address),
        heldVersion: version,
        highWater: version,
        value: live && heldValueOf(live),
        ...(live?.createdAt ? { createdAt: live.createdAt } : {}),
      });
      return true;
    }
    if (entry.forgotten && !this.settled(key, entry, live)) return false;
    if (!live) {
      // A load's NOT_FOUND may be a key whose first rollout runs, whose candidate may be held: only the
      // version check's answer (which tells those apart) means the key is gone.
      if (cause !== 'version-check' || entry.value === undefined) return false;
      // As a removal's push would: the mark goes too, so the key created anew (from 1) is taken.
      this.replace(address, entry, {
        heldVersion: 0,
        highWater: 0,
        value: undefined,
        ...(entry.createdAt ? { removedCreatedAt: entry.createdAt } : {}),
        cause,
        rolloutId: undefined,
      });
      return true;
    }
    if (entry.removedCreatedAt !== undefined && !(live.createdAt && live.createdAt > entry.removedCreatedAt))
      return false;
    const recreated =
      live.createdAt !== undefined && entry.createdAt !== undefined && live.createdAt > entry.createdAt;
    if (live.version <= entry.highWater && !recreated) {
      // Versions first held from a push learn which key's versions they are from the first read.
      if (entry.createdAt === undefined && live.createdAt !== undefined)
        this.entries.set(key, { ...entry, createdAt: live.createdAt });
      return false;
    }
    this.replace(address, entry, {
      heldVersion: live.version,
      highWater: live.version,
      value: heldValueOf(live),
      ...(live.createdAt ? { createdAt: live.createdAt } : {}),
      cause,
      rolloutId: undefined,
    });
    return true;
  }

  /** Whether reads count again for a forgotten key: they have found it gone for long enough. */
  private settled(key: string, entry: Entry, live: HeldValue | undefined): boolean {
    if (!live) {
      if (entry.absentSince === undefined) this.entries.set(key, { ...entry, absentSince: this.now() });
      return false;
    }
    return entry.absentSince !== undefined && this.now() - entry.absentSince >= REMOVAL_SETTLE_MS;
  }

  /** Calls `listener` after every change of the held version of `key`, for any tenant and service. */
  onChange(key: string, listener: ChangeListener): () => void {
    let forKey = this.listeners.get(key);
    if (!forKey) {
      forKey = new Set();
      this.listeners.set(key, forKey);
    }
    forKey.add(listener);
    return () => {
      forKey.delete(listener);
      if (forKey.size === 0 && this.listeners.get(key) === forKey) this.listeners.delete(key);
    };
  }

  private replace(
    address: ConfigAddress,
    entry: Entry | undefined,
    next: Omit<Entry, 'address'> & { cause: ChangeCause; rolloutId: string | undefined },
  ): void {
    const previous = entry?.value;
    this.entries.set(entryKey(address), {
      address: normalized(address),
      heldVersion: next.heldVersion,
      highWater: next.highWater,
      value: next.value,
      ...(next.forgotten ? { forgotten: true } : {}),
      ...(next.createdAt ? { createdAt: next.createdAt } : {}),
      ...(next.removedCreatedAt ? { removedCreatedAt: next.removedCreatedAt } : {}),
    });
    this.notify({
      tenantId: address.tenantId,
      key: address.key,
      ...(address.service ? { service: address.service } : {}),
      previous,
      current: next.value,
      heldVersion: next.heldVersion,
      cause: next.cause,
      ...(next.rolloutId ? { rolloutId: next.rolloutId } : {}),
    });
  }

  private notify(change: ConfigChange): void {
    // A copy: a listener may unsubscribe itself while being told.
    for (const listener of [...(this.listeners.get(change.key) ?? [])]) {
      try {
        const result = listener(change);
        if (result instanceof Promise) result.catch((error: unknown) => this.onListenerError(error, change));
      } catch (error) {
        this.onListenerError(error, change);
      }
    }
  }
}

/** The tenant is part of every entry's identity; an empty service and no service are the same. */
export function entryKey(address: ConfigAddress): string {
  return JSON.stringify([address.tenantId, address.service ?? '', address.key]);
}

function normalized({ tenantId, key, service }: ConfigAddress): ConfigAddress {
  return service ? { tenantId, key, service } : { tenantId, key };
}

function heldValueOf({ version, value, format }: LiveValue): HeldValue {
  return { version, value, format };
}

function absentAfterRemoval(address: ConfigAddress): Entry {
  return { address: normalized(address), heldVersion: 0, highWater: 0, value: undefined, forgotten: true };
}
