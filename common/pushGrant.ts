import { createHash, randomUUID } from 'node:crypto';
import { UnauthenticatedError } from './errors';
import { assertCurrent, macToken, macVerifiedClaims, nowInSeconds } from './signedToken';

/**
 * Push grants authenticate the control plane to one service instance for one call. The rollout worker
 * MACs a grant per call with the key its push session shares with that instance alone
 * (common/pushSession.ts), so no other instance can make or check one. A grant names the instance
 * (service, instance id, address) and exactly what it authorises (tenant, key, service, version, revert,
 * removal, format, rollout and the value's SHA-256), lives seconds, and carries a nonce the instance
 * refuses to see twice: a grant captured by one instance is worth nothing anywhere else, for anything
 * else, or a second time.
 */
export const PUSH_GRANT_ISSUER = 'config-rollout-control-plane';
/** Long enough for a call and its network delay; each retry signs a fresh grant. */
export const PUSH_GRANT_TTL_SECONDS = 10;
/** Tolerated clock difference between the worker and an instance. */
export const CLOCK_SKEW_SECONDS = 5;
/** A grant valid for longer was not signed by this code: refused whatever its signature. */
const MAX_LIFETIME_SECONDS = 30;
const MAX_NONCE_LENGTH = 64;

/** The instance a grant is for, as the worker dialled it and as the instance knows itself. */
export interface PushTarget {
  readonly service: string;
  readonly instanceId: string;
  /** `ip:port`; an instance that does not know its advertised address skips this check. */
  readonly address?: string;
}

/** One delivery: the whole of a RefreshRequest, with the value by its hash. */
export interface RefreshScope {
  readonly op: 'refresh';
  readonly tenantId: string;
  readonly key: string;
  /** Empty for a tenant-wide key. */
  readonly service: string;
  readonly version: number;
  readonly revertFrom: number;
  readonly removed: boolean;
  /** SHA-256 of the plain value (base64url); empty for a removal. */
  readonly valueHash: string;
  readonly format: string;
  readonly rolloutId: string;
}

/** One health and convergence check, of exactly these keys. */
export interface HealthScope {
  readonly op: 'health';
  readonly keysHash: string;
}

/**
 * One read-cache notice to a config service replica (proto/readCache.proto): this tenant's key has a new
 * live state. A grant for one tenant's key cannot be replayed to drop another's.
 */
export interface ReadCacheScope {
  readonly op: 'read-cache';
  readonly tenantId: string;
  readonly key: string;
  /** Empty for a tenant-wide key. */
  readonly service: string;
  readonly version: number;
  readonly removed: boolean;
  readonly rolloutId: string;
}

export type PushScope = RefreshScope | HealthScope | ReadCacheScope;

/** The scope of a Refresh call delivering `change`: what its grant must name. */
export function refreshScope(change: {
  readonly tenantId: string;
  readonly key: string;
  readonly service?: string;
  readonly version: number;
  readonly revertFrom?: number;
  /** Undefined for a removal. */
  readonly value: string | undefined;
  readonly format: string;
  readonly rolloutId?: string;
}): RefreshScope {
  return {
    op: 'refresh',
    tenantId: change.tenantId,
    key: change.key,
    service: change.service ?? '',
    version: change.version,
    revertFrom: change.revertFrom ?? 0,
    removed: change.value === undefined,
    valueHash: change.value === undefined ? '' : valueHash(change.value),
    format: change.format,
    rolloutId: change.rolloutId ?? '',
  };
}

/** A promotion or removal, as the config service replicas' read caches are told of it. */
export interface LiveNotice {
  readonly tenantId: string;
  readonly key: string;
  readonly service?: string;
  /** The version now live; 0 for a removal. */
  readonly version: number;
  readonly removed: boolean;
  readonly rolloutId: string;
}

/** The scope of a ReadCache notice: what its grant must name, on both sides. */
export function readCacheScope(notice: LiveNotice): ReadCacheScope {
  return {
    op: 'read-cache',
    tenantId: notice.tenantId,
    key: notice.key,
    service: notice.service ?? '',
    version: notice.version,
    removed: notice.removed,
    rolloutId: notice.rolloutId,
  };
}

export function valueHash(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('base64url');
}

export function keysHash(keys: readonly { tenantId: string; key: string; service?: string }[]): string {
  const canonical = JSON.stringify(keys.map((k) => [k.tenantId, k.key, k.service ?? '']));
  return createHash('sha256').update(canonical, 'utf8').digest('base64url');
}

/** What a sealed value is bound to (proto/refresh.proto, `sealed_value`): its address and version. */
export function sealingContext(address: {
  readonly tenantId: string;
  readonly key: string;
  readonly service?: string;
  readonly version: number;
}): string {
  return [address.tenantId, address.service ?? '', address.key, String(address.version)].join('\n');
}

export function pushAudience(target: Pick<PushTarget, 'service' | 'instanceId'>): string {
  return `cache-refresh:${target.service}/${target.instanceId}`;
}

/** A grant MAC'd with `macKey`, the key the worker's session shares with `target`. */
export function signPushGrant(
  macKey: Buffer,
  target: Required<PushTarget>,
  scope: PushScope,
  nowSeconds = nowInSeconds(),
): string {
  return macToken(macKey, {
    iss: PUSH_GRANT_ISSUER,
    aud: pushAudience(target),
    addr: target.address,
    iat: nowSeconds,
    exp: nowSeconds + PUSH_GRANT_TTL_SECONDS,
    jti: randomUUID(),
    ...scope,
  });
}

/**
 * Throws UnauthenticatedError, naming the reason, unless `token` is a current grant MAC'd with this
 * instance's session key (`macKey`), for this instance and exactly this call, not seen before.
 * `parseCall` reads the call, with the scope it asks for; it runs (a sealed value is opened) only once
 * the grant's MAC, audience and times hold. Answers what it parsed.
 */
export function verifyPushGrant<Call extends { readonly scope: PushScope }>(
  macKey: Buffer,
  token: string,
  target: PushTarget,
  parseCall: () => Call,
  nonces: NonceGuard,
  nowSeconds = nowInSeconds(),
): Call {
  const claims = macVerifiedClaims(macKey, token, refused);
  if (claims.iss !== PUSH_GRANT_ISSUER) throw refused('wrong issuer');
  const audience = pushAudience(target);
  if (claims.aud !== audience) throw refused(`it is not for this instance (${audience})`);
  if (target.address !== undefined && claims.addr !== target.address) {
    throw refused(`it is not for this instance's address`);
  }
  assertCurrent(
    claims,
    { skewSeconds: CLOCK_SKEW_SECONDS, maxLifetimeSeconds: MAX_LIFETIME_SECONDS, nowSeconds },
    refused,
  );
  const call = parseCall();
  for (const [name, value] of Object.entries(call.scope)) {
    if (claims[name] !== value) throw refused(`it does not authorise this ${fieldName(name)}`);
  }
  const { jti } = claims;
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > MAX_NONCE_LENGTH) {
    throw refused('it has no valid nonce');
  }
  if (!nonces.claim(jti, (claims.exp as number) + CLOCK_SKEW_SECONDS, nowSeconds)) {
    throw refused('it was used before');
  }
  return call;
}

/**
 * The nonces of grants seen and not yet expired. Bounded: past `maxEntries` live nonces it refuses new
 * ones (fail closed) rather than forget one that could still be replayed.
 */
export class NonceGuard {
  private readonly seenUntil = new Map<string, number>();

  constructor(private readonly maxEntries = 100_000) {}

  /** Records the nonce; false when it was seen already, or when the guard is full. */
  claim(nonce: string, expiresAtSeconds: number, nowSeconds = nowInSeconds()): boolean {
    if (this.seenUntil.has(nonce)) return false;
    if (this.seenUntil.size >= this.maxEntries) this.forgetExpired(nowSeconds);
    if (this.seenUntil.size >= this.maxEntries) return false;
    this.seenUntil.set(nonce, expiresAtSeconds);
    return true;
  }

  get size(): number {
    return this.seenUntil.size;
  }

  private forgetExpired(nowSeconds: number): void {
    for (const [nonce, until] of this.seenUntil) {
      if (until < nowSeconds) this.seenUntil.delete(nonce);
    }
  }
}

function fieldName(claim: string): string {
  const names: Record<string, string> = {
    op: 'call',
    tenantId: 'tenant_id',
    key: 'key',
    service: 'service',
    version: 'version',
    revertFrom: 'revert_from',
    removed: 'removal',
    valueHash: 'value',
    format: 'format',
    rolloutId: 'rollout_id',
    keysHash: 'set of keys',
  };
  return names[claim] ?? claim;
}

function refused(reason: string): UnauthenticatedError {
  return new UnauthenticatedError(`push grant refused: ${reason}`, 'authorization');
}
