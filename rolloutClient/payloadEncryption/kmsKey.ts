import { DecryptCommand, GenerateDataKeyCommand, type KMSClient } from '@aws-sdk/client-kms';
import { PayloadUndecryptableError } from '../../common/errors';
import type { DataKey, KeyEncryptionKey } from './keyEncryptionKey';

/**
 * Bound into every data key KMS makes for payloads: a data key taken from elsewhere (or one of ours
 * offered to another use of the same KMS key) does not decrypt, and CloudTrail shows what each call was for.
 */
const ENCRYPTION_CONTEXT = { purpose: 'config-rollout/temporal-payload' };

/** Data keys from AWS KMS (GenerateDataKey), unwrapped with Decrypt. */
export class KmsKey implements KeyEncryptionKey {
  constructor(
    private readonly kms: KMSClient,
    /** A key id, key ARN, alias name or alias ARN. */
    private readonly keyId: string,
  ) {}

  async generateDataKey(): Promise<DataKey> {
    const answer = await this.kms.send(
      new GenerateDataKeyCommand({
        KeyId: this.keyId,
        KeySpec: 'AES_256',
        EncryptionContext: ENCRYPTION_CONTEXT,
      }),
    );
    if (!answer.Plaintext || !answer.CiphertextBlob || !answer.KeyId) {
      throw new Error(`KMS GenerateDataKey on ${this.keyId} answered without a key`);
    }
    // The key ARN, not the alias: an alias may later point at another key.
    return {
      keyId: answer.KeyId,
      plaintext: Buffer.from(answer.Plaintext),
      wrapped: Buffer.from(answer.CiphertextBlob),
    };
  }

  async unwrapDataKey(keyId: string, wrapped: Buffer): Promise<Buffer> {
    try {
      const answer = await this.kms.send(
        new DecryptCommand({ KeyId: keyId, CiphertextBlob: wrapped, EncryptionContext: ENCRYPTION_CONTEXT }),
      );
      if (!answer.Plaintext) throw new Error('KMS Decrypt answered without a plaintext');
      return Buffer.from(answer.Plaintext);
    } catch (error) {
      if (isKmsRefusal(error)) {
        throw new PayloadUndecryptableError(
          `KMS refused the data key under ${keyId}: ${(error as Error).message}`,
          undefined,
          {
            cause: error,
          },
        );
      }
      throw error;
    }
  }
}

/** Refusals that retrying cannot fix; throttling and outages propagate as they are, to be retried. */
function isKmsRefusal(error: unknown): boolean {
  const name = (error as { name?: unknown }).name;
  return (
    typeof name === 'string' &&
    [
      'InvalidCiphertextException',
      'IncorrectKeyException',
      'AccessDeniedException',
      'NotFoundException',
      'DisabledException',
      'KMSInvalidStateException',
    ].includes(name)
  );
}
