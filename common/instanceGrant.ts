import type { KeyObject } from 'node:crypto';
import type { Tenancy } from './cloudMap';
import { UnauthenticatedError } from './errors';
import { isSealingPublicKey } from './sealedValue';
import { assertCurrent, nowInSeconds, signToken, verifiedClaims } from './signedToken';

/**
 * An instance grant is the platform's word that an instance may receive a tenancy's config: a silo
 * grant names one tenant, a pool grant every tenant. The config service issues it (ConfigService
 * IssueInstanceGrant) to a caller whose token proves that right, for the instance's own sealing key; the
 * instance publishes it in its Cloud Map registration, and the rollout pushes only to registrations whose
 * grant matches what they claim. Values are sealed to the grant's key, so a grant copied into another
 * registration yields nothing readable.
 */
export const INSTANCE_GRANT_ISSUER = 'config-rollout-instance-grants';
export const DEFAULT_INSTANCE_GRANT_TTL_SECONDS = 24 * 3600;
export const MAX_INSTANCE_GRANT_TTL_SECONDS = 7 * 24 * 3600;
const CLOCK_SKEW_SECONDS = 60;

export interface InstanceGrant {
  readonly service: string;
  readonly tenancy: Tenancy;
  /** For a silo grant. */
  readonly tenantId?: string;
  /** The instance's X25519 public key (common/sealedValue.ts), base64url. */
  readonly sealingKey: string;
  /** Unix seconds. */
  readonly expiresAt: number;
}

export function signInstanceGrant(
  privateKey: KeyObject,
  grant: Omit<InstanceGrant, 'expiresAt'>,
  ttlSeconds = DEFAULT_INSTANCE_GRANT_TTL_SECONDS,
  nowSeconds = nowInSeconds(),
): { readonly token: string; readonly expiresAt: number } {
  const expiresAt = nowSeconds + ttlSeconds;
  const token = signToken(privateKey, {
    iss: INSTANCE_GRANT_ISSUER,
    svc: grant.service,
    tny: grant.tenancy,
    ...(grant.tenantId ? { ten: grant.tenantId } : {}),
    key: grant.sealingKey,
    iat: nowSeconds,
    exp: expiresAt,
  });
  return { token, expiresAt };
}

/** The grant's content once it is the platform's, current and well formed; UnauthenticatedError if not. */
export function verifyInstanceGrant(
  publicKey: KeyObject,
  token: string,
  nowSeconds = nowInSeconds(),
): InstanceGrant {
  const claims = verifiedClaims(publicKey, token, refused);
  if (claims.iss !== INSTANCE_GRANT_ISSUER) throw refused('wrong issuer');
  assertCurrent(
    claims,
    { skewSeconds: CLOCK_SKEW_SECONDS, maxLifetimeSeconds: MAX_INSTANCE_GRANT_TTL_SECONDS, nowSeconds },
    refused,
  );
  const { svc, tny, ten, key } = claims;
  if (typeof svc !== 'string' || svc.length === 0) throw refused('no service');
  if (tny !== 'silo' && tny !== 'pool') throw refused('no tenancy');
  if (tny === 'silo' && (typeof ten !== 'string' || ten.length === 0))
    throw refused('a silo grant names no tenant');
  if (tny === 'pool' && ten !== undefined) throw refused('a pool grant names a tenant');
  if (!isSealingPublicKey(key)) throw refused('no sealing key');
  return {
    service: svc,
    tenancy: tny,
    ...(tny === 'silo' ? { tenantId: ten as string } : {}),
    sealingKey: key,
    expiresAt: claims.exp as number,
  };
}

function refused(reason: string): UnauthenticatedError {
  return new UnauthenticatedError(`instance grant refused: ${reason}`, 'grant');
}
