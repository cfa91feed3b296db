import { LimitExceededError } from '../../common/errors';
import type { Identity } from '../auth/identity';
import { identityKey } from './requestLimits';

/** A stream refused for its quota may pass once another one ends: rarely within seconds. */
const RETRY_AFTER_SECONDS = 5;

/**
 * Open streams per identity and per tenant: each one holds a connection and polls Temporal, so their
 * number is bounded. Counters exist only while a stream is open, so their memory follows the streams.
 */
export class StreamQuota {
  private readonly open = new Map<string, number>();

  constructor(private readonly limits: { perIdentity: number; perTenant: number }) {}

  /** Counts a stream opening; gives the function that counts it closed (safe to call twice). */
  acquire(identity: Identity): () => void {
    const keys = [`identity:${identityKey(identity)}`, `tenant:${identity.tenantId}`] as const;
    if (this.count(keys[0]) >= this.limits.perIdentity) {
      throw refused('identity-streams', `${this.limits.perIdentity} streams are open for this identity`);
    }
    if (this.count(keys[1]) >= this.limits.perTenant) {
      throw refused('tenant-streams', `${this.limits.perTenant} streams are open for this tenant`);
    }
    for (const key of keys) this.open.set(key, this.count(key) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      for (const key of keys) {
        const left = this.count(key) - 1;
        if (left > 0) this.open.set(key, left);
        else this.open.delete(key);
      }
    };
  }

  private count(key: string): number {
    return this.open.get(key) ?? 0;
  }
}

function refused(limit: string, what: string): LimitExceededError {
  return new LimitExceededError(
    limit,
    `quota ${limit}: ${what}; close one, or retry later`,
    RETRY_AFTER_SECONDS,
  );
}
