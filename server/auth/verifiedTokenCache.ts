import type { Identity } from './identity';
import type { TokenVerifier } from './tokenVerifier';

export interface VerifiedTokenCacheOptions {
  /** Tokens remembered at once; the least recently verified goes first. */
  readonly maxEntries: number;
  /**
   * How long a verification is trusted even when the token lives longer: bounds how long a signing key
   * the issuer has withdrawn from its JWKS goes on admitting the tokens it signed.
   */
  readonly maxAgeMs: number;
}

/**
 * A service instance sends the same token on every read, thousands a second: checking its RSA signature
 * each time was half of a cached GetConfig's CPU (bench/README.md). 10,000 tokens of about 1 KB each
 * hold some 10 MB; a minute is far inside a token's hour.
 */
export const VERIFIED_TOKEN_CACHE: VerifiedTokenCacheOptions = { maxEntries: 10_000, maxAgeMs: 60_000 };

interface Entry {
  readonly identity: Identity;
  /** The earlier of the token's `exp` and `maxAgeMs` after it was verified. */
  readonly trustedUntil: number;
}

/**
 * Remembers what a verifier proved of a token, keyed by the exact token string: any change to the token
 * (a tampered claim, another signature) is another key, verified afresh. Only successes are kept, and an
 * entry answers only before its token's expiry, so an expired token is refused as if never seen. What
 * the token may do (roles against the action, rate limits) is still decided on every call by the caller.
 */
export function withVerifiedTokenCache(
  verifier: TokenVerifier,
  options: VerifiedTokenCacheOptions = VERIFIED_TOKEN_CACHE,
  now: () => number = Date.now,
): TokenVerifier & { readonly cachedTokens: number } {
  const entries = new Map<string, Entry>();
  const verifyCached = (token: string): Identity | undefined => {
    const cached = entries.get(token);
    if (!cached) return undefined;
    if (cached.trustedUntil > now()) return cached.identity;
    entries.delete(token);
    return undefined;
  };
  return {
    hydrate: () => verifier.hydrate(),
    get cachedTokens() {
      return entries.size;
    },
    verifyCached,
    async verify(token: string): Promise<Identity> {
      const cached = verifyCached(token);
      if (cached) return cached;
      const identity = await verifier.verify(token);
      const verifiedAt = now();
      const trustedUntil = Math.min(identity.expiresAt, verifiedAt + options.maxAgeMs);
      if (trustedUntil <= verifiedAt) return identity;
      entries.delete(token);
      entries.set(token, { identity, trustedUntil });
      // Map iteration is insertion order: the first entry is the least recently verified.
      while (entries.size > options.maxEntries) {
        const oldest = entries.keys().next().value;
        if (oldest === undefined) break;
        entries.delete(oldest);
      }
      return identity;
    },
  };
}
