import {
  createHmac,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  timingSafeEqual,
  verify,
} from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Compact JWTs: what the platform's own credentials are made of. Instance grants and push session
 * certificates are signed with Ed25519; push grants are MAC'd (HS256) with a key only the rollout worker
 * and the one instance share (common/pushSession.ts). Each verifier accepts exactly one algorithm, so a
 * token cannot choose another for itself.
 */

export interface Ed25519KeyPair {
  readonly privateKeyPem: string;
  readonly publicKeyPem: string;
}

/** Makes the key pair once in `dir` (private.pem, public.pem); later calls reuse it. */
export function ensureEd25519Keys(dir: string): Ed25519KeyPair {
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

/** A PEM as a key object of the expected type, or undefined: callers name the setting at fault. */
export function ed25519Key(pem: string, kind: 'private' | 'public'): KeyObject | undefined {
  try {
    const key = kind === 'private' ? createPrivateKey(pem) : createPublicKey(pem);
    return key.asymmetricKeyType === 'ed25519' ? key : undefined;
  } catch {
    return undefined;
  }
}

export function signToken(privateKey: KeyObject, claims: Record<string, unknown>): string {
  const header = encode({ alg: 'EdDSA', typ: 'JWT' });
  const payload = encode(claims);
  const signature = sign(null, Buffer.from(`${header}.${payload}`), privateKey);
  return `${header}.${payload}.${signature.toString('base64url')}`;
}

/** The token's claims once its signature is ours; `refuse` turns a reason into the caller's error. */
export function verifiedClaims(
  publicKey: KeyObject,
  token: string,
  refuse: (reason: string) => Error,
): Record<string, unknown> {
  const { signed, signature, payload } = splitToken(token, 'EdDSA', refuse);
  if (!verify(null, signed, publicKey, signature)) throw refuse('invalid signature');
  return claimsOf(payload, refuse);
}

export function macToken(key: Buffer, claims: Record<string, unknown>): string {
  const signed = `${encode({ alg: 'HS256', typ: 'JWT' })}.${encode(claims)}`;
  return `${signed}.${createHmac('sha256', key).update(signed).digest('base64url')}`;
}

/** The claims of a token MAC'd with `key` (HS256), compared in constant time. */
export function macVerifiedClaims(
  key: Buffer,
  token: string,
  refuse: (reason: string) => Error,
): Record<string, unknown> {
  const { signed, signature, payload } = splitToken(token, 'HS256', refuse);
  const expected = createHmac('sha256', key).update(signed).digest();
  if (signature.length !== expected.length || !timingSafeEqual(signature, expected)) {
    throw refuse('invalid signature');
  }
  return claimsOf(payload, refuse);
}

function splitToken(
  token: string,
  algorithm: 'EdDSA' | 'HS256',
  refuse: (reason: string) => Error,
): { signed: Buffer; signature: Buffer; payload: string } {
  const parts = token.split('.');
  if (parts.length !== 3) throw refuse('not a JWT');
  const [header, payload, signature] = parts as [string, string, string];
  const alg = decode(header)?.alg;
  if (alg !== algorithm) throw refuse(`algorithm ${String(alg)} is not allowed`);
  return {
    signed: Buffer.from(`${header}.${payload}`),
    signature: Buffer.from(signature, 'base64url'),
    payload,
  };
}

function claimsOf(payload: string, refuse: (reason: string) => Error): Record<string, unknown> {
  const claims = decode(payload);
  if (!claims) throw refuse('unreadable claims');
  return claims;
}

/**
 * Checks `iat` and `exp` against now: neither expired nor issued in the future beyond `skewSeconds`,
 * and never valid for longer than `maxLifetimeSeconds`.
 */
export function assertCurrent(
  claims: Record<string, unknown>,
  options: { skewSeconds: number; maxLifetimeSeconds: number; nowSeconds: number },
  refuse: (reason: string) => Error,
): void {
  const { iat, exp } = claims;
  if (typeof iat !== 'number' || typeof exp !== 'number') throw refuse('iat and exp are required');
  if (exp + options.skewSeconds < options.nowSeconds) throw refuse('expired');
  if (iat - options.skewSeconds > options.nowSeconds) throw refuse('issued in the future');
  if (exp - iat > options.maxLifetimeSeconds) {
    throw refuse(`valid for longer than ${options.maxLifetimeSeconds} s`);
  }
}

export function nowInSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

function encode(part: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(part)).toString('base64url');
}

function decode(part: string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
