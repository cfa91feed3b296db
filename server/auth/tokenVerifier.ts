import { CognitoJwtVerifier } from 'aws-jwt-verify';
import { FetchError, JwtBaseError } from 'aws-jwt-verify/error';
import type { Fetcher } from 'aws-jwt-verify/https';
import { SimpleJwksCache } from 'aws-jwt-verify/jwk';
import type { JwtPayload } from 'aws-jwt-verify/jwt-model';
import { BackendUnavailableError, UnauthenticatedError } from '../../common/errors';
import { isTenantId } from '../../common/identifiers';
import type { AuthSettings } from '../../common/settings';
import { GROUPS_CLAIM, TENANT_CLAIM } from '../../common/tokenClaims';
import { type Identity, rolesFromGroups } from './identity';
import {
  VERIFIED_TOKEN_CACHE,
  type VerifiedTokenCacheOptions,
  withVerifiedTokenCache,
} from './verifiedTokenCache';

export interface TokenVerifier {
  /** Fetches the signing keys; call once before serving so the first request does not pay for it. */
  hydrate(): Promise<void>;
  verify(token: string): Promise<Identity>;
  /**
   * What was already proved of this exact token and still holds, without new work (no I/O, no
   * signature check): undefined when it must go through `verify`.
   */
  verifyCached?(token: string): Identity | undefined;
}

/**
 * Verifies Cognito JWTs with aws-jwt-verify: signature, issuer, token use, client id, expiry, and the
 * tenant claim (which aws-jwt-verify itself does not check). On the local stack the only difference is
 * where the signing keys come from: the local issuer on loopback instead of Cognito's JWKS endpoint.
 * A token once verified is answered from memory until it expires (server/auth/verifiedTokenCache.ts).
 */
export function createTokenVerifier(
  settings: AuthSettings,
  cache: VerifiedTokenCacheOptions = VERIFIED_TOKEN_CACHE,
): TokenVerifier & { readonly cachedTokens: number } {
  const jwksCache = settings.localJwksUrl
    ? new SimpleJwksCache({ fetcher: loopbackFetcher(settings.localJwksUrl) })
    : undefined;
  const verifier = CognitoJwtVerifier.create(
    {
      userPoolId: settings.userPoolId,
      clientId: settings.clientId,
      tokenUse: settings.tokenUse,
      customJwtCheck: ({ payload }) => assertPlatformClaims(payload),
    },
    jwksCache ? { jwksCache } : undefined,
  );

  return withVerifiedTokenCache(
    {
      hydrate: () => verifier.hydrate(),
      async verify(token: string): Promise<Identity> {
        let payload: JwtPayload;
        try {
          payload = await verifier.verify(token);
        } catch (error) {
          // The caller's token may be fine: we could not get the keys to check it.
          if (error instanceof FetchError) {
            throw new BackendUnavailableError(
              `identity provider keys unavailable: ${error.message}`,
              undefined,
              {
                cause: error,
              },
            );
          }
          if (error instanceof JwtBaseError) {
            throw new UnauthenticatedError(`invalid token: ${error.message}`, 'authorization', {
              cause: error,
            });
          }
          throw error;
        }
        const groups = payload[GROUPS_CLAIM];
        return {
          tenantId: payload[TENANT_CLAIM] as string,
          subject: typeof payload.sub === 'string' ? payload.sub : '',
          // assertPlatformClaims made sure there is one.
          expiresAt: (payload.exp as number) * 1000,
          roles: rolesFromGroups(
            Array.isArray(groups) ? groups.filter((g): g is string => typeof g === 'string') : [],
          ),
        };
      },
    },
    cache,
  );
}

/** How far ahead of this server's clock an issuer's may run: NTP keeps real clocks well within it. */
const MAX_CLOCK_SKEW_SECONDS = 30;

/**
 * aws-jwt-verify accepts a token without `exp`, one issued in the future (it does not read `iat`), and
 * knows nothing of tenants: all three are ours to insist on. A future `iat` is a forged or mis-issued
 * token, or one minted to outlive its apparent age.
 */
function assertPlatformClaims(payload: JwtPayload): void {
  if (typeof payload.exp !== 'number')
    throw new UnauthenticatedError('token has no expiry (exp)', 'authorization');
  if (payload.iat !== undefined && typeof payload.iat !== 'number')
    throw new UnauthenticatedError('token has a malformed issue time (iat)', 'authorization');
  if (payload.iat !== undefined && payload.iat > Date.now() / 1000 + MAX_CLOCK_SKEW_SECONDS) {
    throw new UnauthenticatedError(
      "token was issued in the future (iat): check the issuer's clock",
      'authorization',
    );
  }
  if (typeof payload.sub !== 'string' || payload.sub.length === 0) {
    throw new UnauthenticatedError('token has no subject (sub)', 'authorization');
  }
  if (!isTenantId(payload[TENANT_CLAIM])) {
    throw new UnauthenticatedError(`token has no valid ${TENANT_CLAIM} claim`, 'authorization');
  }
}

/**
 * The built-in fetcher refuses plain http, rightly for the internet. The local issuer serves on loopback
 * only, so every JWKS request is answered from there (settings refuse a non-loopback URL).
 */
function loopbackFetcher(jwksUrl: string): Fetcher {
  return {
    async fetch(): Promise<ArrayBuffer> {
      const response = await fetch(jwksUrl, { signal: AbortSignal.timeout(3000) }).catch((error: unknown) => {
        const reason =
          error instanceof Error ? ((error.cause as Error | undefined)?.message ?? error.message) : error;
        throw new FetchError(jwksUrl, `local issuer unreachable (${String(reason)}); is the stack up?`);
      });
      if (!response.ok) throw new FetchError(jwksUrl, `local issuer answered HTTP ${response.status}`);
      return response.arrayBuffer();
    },
  };
}
