import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomUUID,
  sign,
  verify,
} from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { UnauthenticatedError } from './errors';

/**
 * Push tokens authenticate the control plane to service instances on CacheRefresh calls. The rollout
 * worker holds an Ed25519 private key; instances hold only the public key, so a compromised instance
 * cannot forge pushes to others. A token is short-lived and names the service it is for (`aud`), so
 * one captured from one service is refused by every other.
 */
export const PUSH_TOKEN_ISSUER = 'config-rollout-control-plane';
const DEFAULT_TTL_SECONDS = 60;
/** Tolerated clock difference between the worker and an instance. */
const CLOCK_SKEW_SECONDS = 30;

export interface PushKeyPair {
  readonly privateKeyPem: string;
  readonly publicKeyPem: string;
}

/** Makes the key pair once in `dir` (private.pem, public.pem); later calls reuse it. */
export function ensurePushKeys(dir: string): PushKeyPair {
  const privatePath = path.join(dir, 'private.pem');
  const publicPath = path.join(dir, 'public.pem');
  if (!existsSync(privatePath)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    writeFileSync(privatePath, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    writeFileSync(publicPath, publicKey.export({ type: 'spki', format: 'pem' }));
  }
  return { privateKeyPem: readFileSync(privatePath, 'utf8'), publicKeyPem: readFileSync(publicPath, 'utf8') };
}

export function pushAudience(service: string): string {
  return `service:${service}`;
}

export function signPushToken(
  privateKeyPem: string,
  claims: { service: string; ttlSeconds?: number },
  nowSeconds = Math.floor(Date.now() / 1000),
): string {
  const header = encode({ alg: 'EdDSA', typ: 'JWT' });
  const payload = encode({
    iss: PUSH_TOKEN_ISSUER,
    aud: pushAudience(claims.service),
    iat: nowSeconds,
    exp: nowSeconds + (claims.ttlSeconds ?? DEFAULT_TTL_SECONDS),
    jti: randomUUID(),
  });
  const signature = sign(null, Buffer.from(`${header}.${payload}`), createPrivateKey(privateKeyPem));
  return `${header}.${payload}.${signature.toString('base64url')}`;
}

/** Throws UnauthenticatedError, with the reason, unless the token is ours, current and for `service`. */
export function verifyPushToken(
  publicKeyPem: string,
  token: string,
  service: string,
  nowSeconds = Math.floor(Date.now() / 1000),
): void {
  const parts = token.split('.');
  if (parts.length !== 3) throw refused('not a JWT');
  const [header, payload, signature] = parts as [string, string, string];
  const headerJson = decode(header);
  if (headerJson?.alg !== 'EdDSA') throw refused(`algorithm ${String(headerJson?.alg)} is not allowed`);
  const valid = verify(
    null,
    Buffer.from(`${header}.${payload}`),
    createPublicKey(publicKeyPem),
    Buffer.from(signature, 'base64url'),
  );
  if (!valid) throw refused('invalid signature');
  const claims = decode(payload);
  if (claims?.iss !== PUSH_TOKEN_ISSUER) throw refused('wrong issuer');
  if (claims.aud !== pushAudience(service)) throw refused(`audience is not ${pushAudience(service)}`);
  if (typeof claims.exp !== 'number' || claims.exp + CLOCK_SKEW_SECONDS < nowSeconds)
    throw refused('expired');
  if (typeof claims.iat !== 'number' || claims.iat - CLOCK_SKEW_SECONDS > nowSeconds) {
    throw refused('issued in the future');
  }
}

function refused(reason: string): UnauthenticatedError {
  return new UnauthenticatedError(`push token refused: ${reason}`, 'authorization');
}

function encode(part: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(part)).toString('base64url');
}

function decode(part: string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
