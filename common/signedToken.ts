import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Compact EdDSA-signed JWTs: what the platform's own credentials are made of (push grants, instance
 * grants). Only Ed25519 is accepted, so a token cannot choose a weaker algorithm for itself.
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
  const parts = token.split('.');
  if (parts.length !== 3) throw refuse('not a JWT');
  const [header, payload, signature] = parts as [string, string, string];
  const headerJson = decode(header);
  if (headerJson?.alg !== 'EdDSA') throw refuse(`algorithm ${String(headerJson?.alg)} is not allowed`);
  const valid = verify(
    null,
    Buffer.from(`${header}.${payload}`),
    publicKey,
    Buffer.from(signature, 'base64url'),
  );
  if (!valid) throw refuse('invalid signature');
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
