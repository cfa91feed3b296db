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
 * Config values travel to an instance sealed to that instance's own X25519 key (ECIES: an ephemeral
 * X25519 key, HKDF-SHA256, AES-256-GCM). The key's public half is named in the instance's grant, so
 * whoever copies a grant into a Cloud Map registration of their own receives only ciphertext, and a
 * value pushed to one instance cannot be read by any other, on the wire or in a replay.
 */

const FORMAT_VERSION = 1;
const INFO = Buffer.from('config-rollout sealed value v1');
/** DER prefix of an X25519 SubjectPublicKeyInfo; the raw 32-byte key follows it. */
const X25519_SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');
const RAW_KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = 1 + RAW_KEY_BYTES + IV_BYTES + TAG_BYTES;

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

/**
 * Seals values for many recipients with one ephemeral key (one per push, not per instance): each
 * recipient's key still differs, since it comes from that recipient's own public key.
 */
export class ValueSealer {
  private readonly ephemeral = generateKeyPairSync('x25519');
  private readonly ephemeralRaw = rawPublicKey(this.ephemeral.publicKey);

  seal(recipientPublicKey: string, plaintext: string, context: string): Buffer {
    const recipientRaw = Buffer.from(recipientPublicKey, 'base64url');
    const key = deriveKey(
      diffieHellman({ privateKey: this.ephemeral.privateKey, publicKey: publicKeyOf(recipientRaw) }),
      this.ephemeralRaw,
      recipientRaw,
    );
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from(context));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return Buffer.concat([Buffer.of(FORMAT_VERSION), this.ephemeralRaw, iv, cipher.getAuthTag(), ciphertext]);
  }
}

/** Opens a value sealed to `keys`; throws SealedValueError when it was sealed to another key or altered. */
export function openSealedValue(keys: SealingKeyPair, sealed: Buffer, context: string): string {
  if (sealed.length < HEADER_BYTES || sealed[0] !== FORMAT_VERSION) {
    throw new SealedValueError('not a sealed value of a known format');
  }
  const ephemeralRaw = sealed.subarray(1, 1 + RAW_KEY_BYTES);
  const iv = sealed.subarray(1 + RAW_KEY_BYTES, 1 + RAW_KEY_BYTES + IV_BYTES);
  const tag = sealed.subarray(1 + RAW_KEY_BYTES + IV_BYTES, HEADER_BYTES);
  try {
    const key = deriveKey(
      diffieHellman({ privateKey: keys.privateKey, publicKey: publicKeyOf(ephemeralRaw) }),
      ephemeralRaw,
      Buffer.from(keys.publicKey, 'base64url'),
    );
    const decipher = createDecipheriv('aes-256-gcm', key, iv);
    decipher.setAAD(Buffer.from(context));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(sealed.subarray(HEADER_BYTES)), decipher.final()]).toString('utf8');
  } catch {
    throw new SealedValueError('the value was not sealed to this instance, or was altered');
  }
}

function deriveKey(shared: Buffer, ephemeralRaw: Buffer, recipientRaw: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', shared, Buffer.concat([ephemeralRaw, recipientRaw]), INFO, 32));
}

function rawPublicKey(key: KeyObject): Buffer {
  return key.export({ type: 'spki', format: 'der' }).subarray(X25519_SPKI_PREFIX.length);
}

function publicKeyOf(raw: Buffer): KeyObject {
  return createPublicKey({ key: Buffer.concat([X25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}
