import type { ConfigAddress } from '../common/configAddress';
import type { Logger } from '../common/logger';
import type { HeldConfig, LiveValue } from './heldConfig';
import type { SdkMetrics } from './metrics';

export const DEFAULT_VERSION_CHECK_INTERVAL_MS = 60_000;

/** The key exists, but no version of it is live yet (its first rollout is running). */
export const PENDING = 'pending';

export interface LiveReader {
  /** The live version; undefined when the key does not exist at all; PENDING when nothing is live yet. */
  getLive(
    address: ConfigAddress,
    options: { readonly acceptPending: true },
  ): Promise<LiveValue | undefined | typeof PENDING>;
}

/**
 * The safety net for a lost push (DESIGN: it never replaces the push): now and then, re-read the live
 * version of every held key and take it only when it is newer than anything delivered. A candidate a
 * rollout pushed is newer than live, so this check never undoes a rollout in progress; nor does it
 * undo a rollback, which leaves the high-water mark at the rolled-back version.
 */
export class VersionCheck {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;
  private stopped = false;

  constructor(
    private readonly deps: {
      readonly held: HeldConfig;
      readonly reader: LiveReader;
      readonly intervalMs: number;
      readonly logger: Logger;
      readonly metrics?: SdkMetrics;
    },
  ) {}

  /** Schedules the checks; an interval of 0 turns them off. */
  start(): void {
    if (this.deps.intervalMs > 0) this.schedule();
  }

  /** Stops scheduling and waits for a check in progress, so nothing reads after the reader is closed. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** One pass over every held key; answers how many were behind. */
  async checkNow(): Promise<number> {
    let caught = 0;
    for (const address of this.deps.held.addresses()) {
      if (this.stopped) break;
      const before = this.deps.held.heldVersion(address);
      try {
        const live = await this.deps.reader.getLive(address, { acceptPending: true });
        // A new key's candidate, pushed by its first rollout, stays until that rollout promotes it.
        if (live === PENDING) {
          this.deps.metrics?.versionChecked('current');
          continue;
        }
        // An absent key is reported too: a removal that was missed drops the key, and a removed key's
        // tombstone learns the store let it go.
        const behind = this.deps.held.applyRead(address, live, 'version-check');
        this.deps.metrics?.versionChecked(behind ? 'behind' : 'current');
        if (behind) {
          caught += 1;
          const found = live ? 'a newer live version, or the key created anew' : 'the key removed';
          this.deps.logger.warn(`version check found ${found}: a push was missed`, {
            tenantId: address.tenantId,
            key: address.key,
            service: address.service,
            version: live?.version,
            previousVersion: before,
          });
        }
      } catch (error) {
        this.deps.metrics?.versionChecked('failed');
        this.deps.logger.warn('version check could not read a key', {
          tenantId: address.tenantId,
          key: address.key,
          service: address.service,
          error,
        });
      }
    }
    this.deps.metrics?.versionCheckPassed(caught);
    return caught;
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      this.running = this.checkNow().finally(() => {
        this.running = undefined;
        if (!this.stopped) this.schedule();
      });
    }, this.deps.intervalMs);
    // The check must never be what keeps a process alive.
    this.timer.unref();
  }
}
