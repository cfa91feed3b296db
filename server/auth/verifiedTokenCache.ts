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

/**
 * Entries are found by a token's last characters (inside its signature), then the whole token is
 * compared: hashing a 1 KB token for a Map lookup on every call cost more than the rest of the lookup.
 */
const KEY_CHARACTERS = 32;

interface Entry {
  /** The whole token: only this exact string is answered from the entry. */
  readonly token: string;
  readonly identity: Identity;
  /** The earlier of the token's `exp` and `maxAgeMs` after it was verified. */
  readonly trustedUntil: number;
}

/**
 * Remembers what a verifier proved of a token, for that exact token string only: any change to the
 * token (a tampered claim, another signature) misses and is verified afresh. Two tokens ending alike
 * take turns in one slot (only a verified token is stored, so nobody can aim one at another's slot). Only successes are kept, and an
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
    const key = token.slice(-KEY_CHARACTERS);
    const cached = entries.get(key);
    if (!cached || cached.token !== token) return undefined;
    if (cached.trustedUntil > now()) return cached.identity;
    entries.delete(key);
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
      const key = token.slice(-KEY_CHARACTERS);
      entries.delete(key);
      entries.set(key, { token, identity, trustedUntil });
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
