export interface BucketRate {
  /** Tokens added a second: the sustained rate. */
  readonly perSecond: number;
  /** The bucket's size: how many calls may come at once after a quiet spell. */
  readonly burst: number;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

/**
 * One token bucket per key (an identity, a tenant), at most `maxKeys` of them: the least recently used
 * goes when a new key needs room. A forgotten bucket starts full again, which is what an idle one
 * would be anyway; only more than `maxKeys` keys active at once could gain from it.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly rate: BucketRate,
    private readonly maxKeys: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes a token for `key`: 0 when one was there, else the milliseconds until one will be. */
  take(key: string): number {
    const now = this.now();
    const bucket = this.buckets.get(key) ?? { tokens: this.rate.burst, updatedAt: now };
    bucket.tokens = Math.min(
      this.rate.burst,
      bucket.tokens + ((now - bucket.updatedAt) * this.rate.perSecond) / 1000,
    );
    bucket.updatedAt = now;
    // Re-inserted so that Map order is least recently used first.
    this.buckets.delete(key);
    this.buckets.set(key, bucket);
    if (this.buckets.size > this.maxKeys) {
      const oldest = this.buckets.keys().next().value;
      if (oldest !== undefined) this.buckets.delete(oldest);
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - bucket.tokens) * 1000) / this.rate.perSecond);
  }

  get size(): number {
    return this.buckets.size;
  }
}
