/** A data key: encrypts payloads; only its wrapped form travels with them. */
export interface DataKey {
  /** The key-encryption key that wrapped it (a KMS key ARN, or a local key file's fingerprint). */
  readonly keyId: string;
  readonly plaintext: Buffer;
  readonly wrapped: Buffer;
}

/**
 * The key that wraps data keys (envelope encryption): KMS on AWS, a key file on the local stack. Payloads
 * carry the wrapped data key, so whoever holds this key can read any payload, and no one else can.
 */
export interface KeyEncryptionKey {
  generateDataKey(): Promise<DataKey>;
  /** The plaintext of a data key that `keyId` wrapped; throws PayloadUndecryptableError when it cannot. */
  unwrapDataKey(keyId: string, wrapped: Buffer): Promise<Buffer>;
}
