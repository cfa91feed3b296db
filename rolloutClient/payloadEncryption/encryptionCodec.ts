import type { Payload, PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { PayloadUndecryptableError } from '../../common/errors';
import { open, seal } from './aesGcm';
import { BoundedCache } from './boundedCache';
import type { DataKey, KeyEncryptionKey } from './keyEncryptionKey';

/** The `encoding` of a payload this codec sealed; any other payload is left as it is. */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const METADATA_KEY_ID = 'encryption-key-id';
export const METADATA_DATA_KEY = 'encryption-data-key';

export interface EncryptionCodecOptions {
  /** A data key seals at most this many payloads (far below AES-GCM's 2^32 random-IV bound)… */
  readonly maxPayloadsPerDataKey: number;
  /** …and for at most this long, so a leaked data key exposes a bounded window. */
  readonly dataKeyLifetimeMs: number;
  /** Unwrapped data keys kept, so decoding a history costs one KMS call per data key, not per payload. */
  readonly dataKeyCacheSize: number;
}

const DEFAULTS: EncryptionCodecOptions = {
  maxPayloadsPerDataKey: 1_000_000,
  dataKeyLifetimeMs: 60 * 60 * 1000,
  dataKeyCacheSize: 1000,
};

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

/**
 * Envelope encryption of Temporal payloads with AES-256-GCM: each payload (metadata and data, as a
 * Payload protobuf) is sealed under a random data key, and carries that key wrapped by the
 * key-encryption key together with the wrapping key's id. Temporal stores only ciphertext; whoever
 * reads histories without this codec sees no config value.
 */
export class EncryptionCodec implements PayloadCodec {
  private readonly options: EncryptionCodecOptions;
  private current?: { key: Promise<DataKey>; createdAt: number; uses: number };
  /** Unwrapped data keys by wrapped form (base64). */
  private readonly unwrapped: BoundedCache<string, Promise<Buffer>>;

  constructor(
    private readonly keyEncryptionKey: KeyEncryptionKey,
    options: Partial<EncryptionCodecOptions> = {},
  ) {
    this.options = { ...DEFAULTS, ...options };
    this.unwrapped = new BoundedCache(this.options.dataKeyCacheSize);
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    if (payloads.length === 0) return payloads;
    const dataKey = await this.dataKeyFor(payloads.length);
    return payloads.map((payload) => ({
      metadata: {
        encoding: utf8.encode(ENCRYPTED_ENCODING),
        [METADATA_KEY_ID]: utf8.encode(dataKey.keyId),
        [METADATA_DATA_KEY]: dataKey.wrapped,
      },
      data: seal(
        dataKey.plaintext,
        temporal.api.common.v1.Payload.encode(payload).finish(),
        associatedData(dataKey.keyId, dataKey.wrapped),
      ),
    }));
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return Promise.all(payloads.map((payload) => this.decodeOne(payload)));
  }

  private async decodeOne(payload: Payload): Promise<Payload> {
    const metadata = payload.metadata ?? {};
    // Histories written before encryption (or by a client without it) still replay and read.
    if (!metadata.encoding || fromUtf8.decode(metadata.encoding) !== ENCRYPTED_ENCODING) return payload;
    const keyIdBytes = metadata[METADATA_KEY_ID];
    const wrapped = metadata[METADATA_DATA_KEY];
    if (!keyIdBytes || !wrapped || !payload.data) {
      throw new PayloadUndecryptableError('an encrypted payload lacks its key id, data key or data');
    }
    const keyId = fromUtf8.decode(keyIdBytes);
    const dataKey = await this.unwrap(keyId, Buffer.from(wrapped));
    let plaintext: Buffer;
    try {
      plaintext = open(dataKey, payload.data, associatedData(keyId, Buffer.from(wrapped)));
    } catch {
      throw new PayloadUndecryptableError(
        `an encrypted payload under ${keyId} fails authentication: altered`,
      );
    }
    const inner = temporal.api.common.v1.Payload.decode(plaintext);
    return { metadata: inner.metadata, data: inner.data };
  }

  private unwrap(keyId: string, wrapped: Buffer): Promise<Buffer> {
    const cacheKey = unwrapCacheKey(keyId, wrapped);
    let key = this.unwrapped.get(cacheKey);
    if (key === undefined) {
      key = this.keyEncryptionKey.unwrapDataKey(keyId, wrapped);
      this.unwrapped.set(cacheKey, key);
      // A failed unwrap (KMS throttled, say) is not remembered: the next payload tries again.
      key.catch(() => this.unwrapped.delete(cacheKey));
    }
    return key;
  }

  /** The data key to seal `count` payloads with: a new one once the current is used up or too old. */
  private async dataKeyFor(count: number): Promise<DataKey> {
    const now = Date.now();
    const current = this.current;
    if (
      current === undefined ||
      current.uses + count > this.options.maxPayloadsPerDataKey ||
      now - current.createdAt > this.options.dataKeyLifetimeMs
    ) {
      const key = this.keyEncryptionKey.generateDataKey();
      this.current = { key, createdAt: now, uses: count };
      try {
        const dataKey = await key;
        // Our own payloads decode without a round trip to KMS.
        this.unwrapped.set(
          unwrapCacheKey(dataKey.keyId, dataKey.wrapped),
          Promise.resolve(dataKey.plaintext),
        );
        return dataKey;
      } catch (error) {
        if (this.current?.key === key) this.current = undefined;
        throw error;
      }
    }
    current.uses += count;
    return current.key;
  }
}

/** Binds the sealed bytes to the metadata that travels with them: a swapped key id or data key fails. */
function associatedData(keyId: string, wrapped: Buffer): Buffer {
  return Buffer.concat([utf8.encode(`${ENCRYPTED_ENCODING}\0${keyId}\0`), wrapped]);
}

function unwrapCacheKey(keyId: string, wrapped: Buffer): string {
  return `${keyId}\n${wrapped.toString('base64')}`;
}
