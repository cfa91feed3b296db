import { LimitExceededError } from '../../common/errors';
import type { LimitSettings } from '../../common/settings';
import type { Identity } from '../auth/identity';
import { TokenBuckets } from './tokenBuckets';

/** An identity is its subject within its tenant; `/` is outside the tenant id's characters. */
export function identityKey(identity: Identity): string {
  return `${identity.tenantId}/${identity.subject}`;
}

/**
 * Requests a second, per identity (the token's subject) and per tenant, on REST and gRPC alike: one
 * caller cannot take a tenant's share, nor one tenant the service's.
 */
export class RequestLimits {
  private readonly identities: TokenBuckets;
  private readonly tenants: TokenBuckets;

  constructor(
    private readonly settings: Pick<LimitSettings, 'identityRate' | 'tenantRate' | 'tracked'>,
    now: () => number = Date.now,
  ) {
    this.identities = new TokenBuckets(settings.identityRate, settings.tracked, now);
    this.tenants = new TokenBuckets(settings.tenantRate, settings.tracked, now);
  }

  /** Counts one request; throws LimitExceededError naming the limit it is over. */
  admit(identity: Identity): void {
    const identityWait = this.identities.take(identityKey(identity));
    if (identityWait > 0) {
      throw exceeded(
        'identity-rate',
        `more than ${this.settings.identityRate.perSecond} requests a second from this identity`,
        identityWait,
      );
    }
    const tenantWait = this.tenants.take(identity.tenantId);
    if (tenantWait > 0) {
      throw exceeded(
        'tenant-rate',
        `more than ${this.settings.tenantRate.perSecond} requests a second from this tenant`,
        tenantWait,
      );
    }
  }
}

function exceeded(limit: string, what: string, waitMs: number): LimitExceededError {
  const seconds = Math.max(1, Math.ceil(waitMs / 1000));
  return new LimitExceededError(limit, `rate limit ${limit}: ${what}; retry in ${seconds} s`, seconds);
}
