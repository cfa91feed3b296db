import {
  createCipheriv,
  createDecipheriv,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  type KeyObject,
  randomBytes,
} from 'node:crypto';

/**
 * Config values travel to an instance sealed (AES-256-GCM, bound to the value's address and version)
 * under a key only the rollout worker and that instance can derive: X25519 between the worker's session
 * key (common/pushSession.ts) and the instance's own key, whose public half its instance grant names.
 * Whoever copies a grant into a Cloud Map registration of their own receives only ciphertext, and a
 * value pushed to one instance cannot be read by any other, on the wire or in a replay.
 */

const FORMAT_VERSION = 2;
const INFO = Buffer.from('config-rollout push session v1');
/** DER prefix of an X25519 SubjectPublicKeyInfo; the raw 32-byte key follows it. */
const X25519_SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');
const RAW_KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = 1 + IV_BYTES + TAG_BYTES;

export class SealedValueError extends Error {}

export interface SealingKeyPair {
  readonly privateKey: KeyObject;
  /** The raw public key, base64url: what an instance grant names. */
  readonly publicKey: string;
}

export function generateSealingKeys(): SealingKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  return { privateKey, publicKey: rawPublicKey(publicKey).toString('base64url') };
}

/** Whether `publicKey` is a raw X25519 public key in base64url. */
export function isSealingPublicKey(publicKey: unknown): publicKey is string {
  return (
    typeof publicKey === 'string' &&
    /^[A-Za-z0-9_-]{43}$/.test(publicKey) &&
    Buffer.from(publicKey, 'base64url').length === RAW_KEY_BYTES
  );
}

/** What a worker session and one instance share: a key for push grants, one for values. */
export interface SessionKeys {
  readonly macKey: Buffer;
  readonly sealKey: Buffer;
}

/**
 * The keys a worker session shares with one instance: X25519 of one side's private key with the other's
 * public key, through HKDF-SHA256 salted with both public keys (worker's first), so each side derives
 * the same keys and no other pair of keys derives them.
 */
export function sessionKeys(
  own: SealingKeyPair,
  peerPublicKey: string,
  role: 'worker' | 'instance',
): SessionKeys {
  const shared = diffieHellman({ privateKey: own.privateKey, publicKey: publicKeyOf(peerPublicKey) });
  const [workerKey, instanceKey] =
    role === 'worker' ? [own.publicKey, peerPublicKey] : [peerPublicKey, own.publicKey];
  const salt = Buffer.concat([Buffer.from(workerKey, 'base64url'), Buffer.from(instanceKey, 'base64url')]);
  const keys = Buffer.from(hkdfSync('sha256', shared, salt, INFO, 64));
  return { macKey: keys.subarray(0, 32), sealKey: keys.subarray(32) };
}

/** Seals `plaintext` under `sealKey`, bound to `context` (the value's address and version). */
export function sealValue(sealKey: Buffer, plaintext: string, context: string): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', sealKey, iv);
  cipher.setAAD(Buffer.from(context));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([Buffer.of(FORMAT_VERSION), iv, cipher.getAuthTag(), ciphertext]);
}

/** Opens a sealed value; throws SealedValueError when it was sealed under another key or altered. */
export function openSealedValue(sealKey: Buffer, sealed: Buffer, context: string): string {
  if (sealed.length < HEADER_BYTES || sealed[0] !== FORMAT_VERSION) {
    throw new SealedValueError('not a sealed value of a known format');
  }
  const iv = sealed.subarray(1, 1 + IV_BYTES);
  const tag = sealed.subarray(1 + IV_BYTES, HEADER_BYTES);
  try {
    const decipher = createDecipheriv('aes-256-gcm', sealKey, iv);
    decipher.setAAD(Buffer.from(context));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(sealed.subarray(HEADER_BYTES)), decipher.final()]).toString('utf8');
  } catch {
    throw new SealedValueError('the value was not sealed to this instance, or was altered');
  }
}

function rawPublicKey(key: KeyObject): Buffer {
  return key.export({ type: 'spki', format: 'der' }).subarray(X25519_SPKI_PREFIX.length);
}

function publicKeyOf(raw: string): KeyObject {
  return createPublicKey({
    key: Buffer.concat([X25519_SPKI_PREFIX, Buffer.from(raw, 'base64url')]),
    format: 'der',
    type: 'spki',
  });
}
