import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { PayloadUndecryptableError } from '../../common/errors';
import { open, seal } from './aesGcm';
import type { DataKey, KeyEncryptionKey } from './keyEncryptionKey';

export const KEY_BYTES = 32;
const WRAP_CONTEXT = Buffer.from('config-rollout/payload-data-key/v1');

/**
 * The local stack's stand-in for KMS: a 256-bit key in a file (base64) wraps the data keys. Its id is a
 * fingerprint of the key, so a payload names the key that can open it without revealing it.
 */
export class LocalKeyFile implements KeyEncryptionKey {
  private readonly key: Buffer;
  readonly keyId: string;

  constructor(keyFile: string) {
    this.key = Buffer.from(readFileSync(keyFile, 'utf8').trim(), 'base64');
    if (this.key.length !== KEY_BYTES) {
      throw new Error(
        `${keyFile} must hold a base64 ${KEY_BYTES}-byte key (it holds ${this.key.length} bytes)`,
      );
    }
    this.keyId = `local:${createHash('sha256').update(this.key).digest('hex').slice(0, 16)}`;
  }

  generateDataKey(): Promise<DataKey> {
    const plaintext = randomBytes(KEY_BYTES);
    return Promise.resolve({
      keyId: this.keyId,
      plaintext,
      wrapped: seal(this.key, plaintext, WRAP_CONTEXT),
    });
  }

  unwrapDataKey(keyId: string, wrapped: Buffer): Promise<Buffer> {
    // An executor that throws rejects: callers see one failure path, as with KMS.
    return new Promise((resolve) => resolve(this.unwrap(keyId, wrapped)));
  }

  private unwrap(keyId: string, wrapped: Buffer): Buffer {
    if (keyId !== this.keyId) {
      throw new PayloadUndecryptableError(
        `payload was sealed under key ${keyId}; this key file is ${this.keyId}`,
      );
    }
    try {
      return open(this.key, wrapped, WRAP_CONTEXT);
    } catch {
      throw new PayloadUndecryptableError(
        `the data key of a payload under ${keyId} does not unwrap: altered`,
      );
    }
  }
}
