import { LimitExceededError } from '../../common/errors';
import type { Identity } from '../../server/auth/identity';
import { RequestLimits } from '../../server/limits/requestLimits';
import { StreamQuota } from '../../server/limits/streamQuota';
import { TokenBuckets } from '../../server/limits/tokenBuckets';
import { thrownBy } from '../support/thrown';

const caller = (tenantId: string, subject: string): Identity => ({
  tenantId,
  subject,
  roles: ['operator'],
  expiresAt: Number.MAX_SAFE_INTEGER,
});

const refusal = (action: () => unknown) => thrownBy(action, LimitExceededError);

describe('token buckets', () => {
  test('allow a burst, then refill at the rate, and say how long until the next token', () => {
    let now = 0;
    const buckets = new TokenBuckets({ perSecond: 10, burst: 3 }, 100, () => now);
    expect([buckets.take('a'), buckets.take('a'), buckets.take('a')]).toEqual([0, 0, 0]);
    expect(buckets.take('a')).toBe(100);
    now = 100;
    expect(buckets.take('a')).toBe(0);
    expect(buckets.take('a')).toBe(100);
    now = 10_000;
    expect([buckets.take('a'), buckets.take('a'), buckets.take('a'), buckets.take('a')]).toEqual([
      0, 0, 0, 100,
    ]);
  });

  test('keep keys apart, and hold at most maxKeys buckets, forgetting the least recently used', () => {
    const buckets = new TokenBuckets({ perSecond: 1, burst: 1 }, 2, () => 0);
    expect(buckets.take('a')).toBe(0);
    expect(buckets.take('b')).toBe(0);
    expect(buckets.take('a')).toBeGreaterThan(0);
    expect(buckets.take('c')).toBe(0); // b, least recently used, goes
    expect(buckets.size).toBe(2);
    expect(buckets.take('a')).toBeGreaterThan(0); // a was kept, still empty
    for (let n = 0; n < 10_000; n += 1) buckets.take(`k${n}`);
    expect(buckets.size).toBe(2);
  });
});

describe('request limits', () => {
  const rate = (perSecond: number, burst: number) => ({ perSecond, burst });

  test('an identity over its rate is refused naming identity-rate, with whole seconds to wait', () => {
    const limits = new RequestLimits(
      { identityRate: rate(1, 2), tenantRate: rate(100, 100), tracked: 10 },
      () => 0,
    );
    limits.admit(caller('acme', 'alice'));
    limits.admit(caller('acme', 'alice'));
    const error = refusal(() => limits.admit(caller('acme', 'alice')));
    expect(error).toMatchObject({ code: 'LimitExceeded', limit: 'identity-rate', retryAfterSeconds: 1 });
    expect(() => limits.admit(caller('acme', 'bob'))).not.toThrow();
    expect(() => limits.admit(caller('globex', 'alice'))).not.toThrow(); // a subject is per tenant
  });

  test('many identities of one tenant together meet the tenant limit; other tenants do not', () => {
    const limits = new RequestLimits(
      { identityRate: rate(100, 100), tenantRate: rate(1, 3), tracked: 10 },
      () => 0,
    );
    for (const subject of ['a', 'b', 'c']) limits.admit(caller('acme', subject));
    expect(refusal(() => limits.admit(caller('acme', 'd'))).limit).toBe('tenant-rate');
    expect(() => limits.admit(caller('globex', 'a'))).not.toThrow();
  });
});

describe('stream quota', () => {
  test('counts open streams per identity and per tenant, and frees them on release (once)', () => {
    const quota = new StreamQuota({ perIdentity: 2, perTenant: 3 });
    const first = quota.acquire(caller('acme', 'alice'));
    quota.acquire(caller('acme', 'alice'));
    expect(refusal(() => quota.acquire(caller('acme', 'alice'))).limit).toBe('identity-streams');
    quota.acquire(caller('acme', 'bob'));
    expect(refusal(() => quota.acquire(caller('acme', 'carol'))).limit).toBe('tenant-streams');
    expect(() => quota.acquire(caller('globex', 'alice'))).not.toThrow();
    first();
    first();
    const again = quota.acquire(caller('acme', 'alice'));
    expect(refusal(() => quota.acquire(caller('acme', 'carol'))).limit).toBe('tenant-streams');
    again();
    expect(() => quota.acquire(caller('acme', 'carol'))).not.toThrow();
  });
});
