import type { ConfigAddress, ValueFormat } from '../activities/storage/types';

/** One version of a key's value, as an instance holds it. */
export interface HeldValue {
  readonly version: number;
  readonly value: string;
  readonly format: ValueFormat;
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
 *   high-water mark where it was, so a late duplicate of the rolled-back push cannot bring it back;
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
      return { heldVersion: entry?.heldVersion ?? 0, applied: false };
    }

    const value = delivery.value && { version: delivery.version, ...delivery.value };
    this.replace(address, entry, {
      heldVersion: delivery.version,
      highWater: isForget ? 0 : Math.max(entry?.highWater ?? 0, delivery.version),
      forgotten: isForget,
      value,
      cause: isRollback ? 'rollback' : 'push',
      rolloutId: delivery.rolloutId,
    });
    return { heldVersion: delivery.version, applied: true };
  }

  /**
   * A live value read from ConfigService; undefined when the key does not exist. The first read of an
   * address holds it quietly (nothing changed for anyone listening); a later one that is newer than
   * everything delivered so far (a push that got lost) is a change, reported as `cause`.
   */
  applyRead(address: ConfigAddress, live: HeldValue | undefined, cause: ChangeCause): boolean {
    const key = entryKey(address);
    const entry = this.entries.get(key);
    if (!entry) {
      const version = live?.version ?? 0;
      this.entries.set(key, {
        address: normalized(address),
        heldVersion: version,
        highWater: version,
        value: live,
      });
      return true;
    }
    if (entry.forgotten && !this.settled(key, entry, live)) return false;
    // A key that vanished from the store is not removed here: only a rolled-out removal does that.
    if (!live || live.version <= entry.highWater) return false;
    this.replace(address, entry, {
      heldVersion: live.version,
      highWater: live.version,
      value: live,
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
function entryKey(address: ConfigAddress): string {
  return JSON.stringify([address.tenantId, address.service ?? '', address.key]);
}

function normalized({ tenantId, key, service }: ConfigAddress): ConfigAddress {
  return service ? { tenantId, key, service } : { tenantId, key };
}

function absentAfterRemoval(address: ConfigAddress): Entry {
  return { address: normalized(address), heldVersion: 0, highWater: 0, value: undefined, forgotten: true };
}
