import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PayloadUndecryptableError } from '../../common/errors';
import { loadTemporalSettings } from '../../common/settings';
import {
  ENCRYPTED_ENCODING,
  EncryptionCodec,
  METADATA_DATA_KEY,
  METADATA_KEY_ID,
} from '../../rolloutClient/payloadEncryption/encryptionCodec';
import { KmsKey } from '../../rolloutClient/payloadEncryption/kmsKey';
import { LocalKeyFile } from '../../rolloutClient/payloadEncryption/localKeyFile';
import { ensurePayloadKeyFile } from '../../scripts/stack/payloadKeyFile';

/**
 * The payload codec on its own: round trips, tampering, pass-through of payloads written before
 * encryption, and the KMS path against moto's KMS (the local stack's moto server).
 */
const SECRET = 'sk_live_payment-provider-key-4f1d';

let dir: string;
let keyFile: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'payload-key-'));
  keyFile = ensurePayloadKeyFile(dir);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const payloadOf = (value: unknown): Payload => defaultPayloadConverter.toPayload(value);
const valueOf = (payload: Payload | undefined): unknown => defaultPayloadConverter.fromPayload(payload!);
const text = (bytes: Uint8Array | null | undefined) => Buffer.from(bytes ?? []).toString('utf8');
const containsSecret = (payload: Payload) =>
  [payload.data, ...Object.values(payload.metadata ?? {})].some((bytes) => {
    const buffer = Buffer.from(bytes ?? []);
    return buffer.includes(SECRET) || buffer.includes(Buffer.from(SECRET).toString('base64'));
  });

describe('with a local key file', () => {
  test('a payload round-trips, and its sealed form holds neither the value nor its base64', async () => {
    const codec = new EncryptionCodec(new LocalKeyFile(keyFile));
    const original = [payloadOf({ value: SECRET }), payloadOf(['another', 7])];
    const sealed = await codec.encode(original);

    expect(sealed.map((p) => text(p.metadata?.encoding))).toEqual([ENCRYPTED_ENCODING, ENCRYPTED_ENCODING]);
    expect(sealed.some(containsSecret)).toBe(false);
    expect(text(sealed[0]?.metadata?.[METADATA_KEY_ID])).toMatch(/^local:[0-9a-f]{16}$/);
    // A fresh codec (another process) with the same key file reads them.
    const opened = await new EncryptionCodec(new LocalKeyFile(keyFile)).decode(sealed);
    expect(opened.map(valueOf)).toEqual([{ value: SECRET }, ['another', 7]]);
    expect(text(opened[0]?.metadata?.encoding)).toBe('json/plain');
  });

  test('a payload written before encryption (no codec encoding) passes through decode unchanged', async () => {
    const codec = new EncryptionCodec(new LocalKeyFile(keyFile));
    const plain = [payloadOf({ value: 'old history' }), payloadOf(undefined)];
    await expect(codec.decode(plain)).resolves.toEqual(plain);
  });

  test.each([
    ['a flipped ciphertext byte', (p: Payload) => ({ ...p, data: flipLastByte(p.data!) })],
    [
      'a data key from another payload',
      (p: Payload, other: Payload) => ({
        ...p,
        metadata: { ...p.metadata, [METADATA_DATA_KEY]: other.metadata![METADATA_DATA_KEY]! },
      }),
    ],
    [
      'an altered wrapped data key',
      (p: Payload) => ({
        ...p,
        metadata: { ...p.metadata, [METADATA_DATA_KEY]: flipLastByte(p.metadata![METADATA_DATA_KEY]!) },
      }),
    ],
    ['a truncated ciphertext', (p: Payload) => ({ ...p, data: p.data!.subarray(0, 10) })],
  ])('%s is refused as undecryptable, never decoded to something else', async (_name, tamper) => {
    const codec = new EncryptionCodec(new LocalKeyFile(keyFile));
    const [sealed] = await codec.encode([payloadOf({ value: SECRET })]);
    // Another codec instance: another data key.
    const [other] = await new EncryptionCodec(new LocalKeyFile(keyFile)).encode([payloadOf('x')]);
    const fresh = new EncryptionCodec(new LocalKeyFile(keyFile));
    await expect(fresh.decode([tamper(sealed!, other!)])).rejects.toBeInstanceOf(PayloadUndecryptableError);
  });

  test('another key file cannot open the payloads, and says which key they need', async () => {
    const otherDir = mkdtempSync(path.join(tmpdir(), 'payload-key-'));
    try {
      const sealed = await new EncryptionCodec(new LocalKeyFile(keyFile)).encode([payloadOf(SECRET)]);
      const stranger = new EncryptionCodec(new LocalKeyFile(ensurePayloadKeyFile(otherDir)));
      await expect(stranger.decode(sealed)).rejects.toThrow(/sealed under key local:[0-9a-f]{16}/);
    } finally {
      rmSync(otherDir, { recursive: true, force: true });
    }
  });

  test('the data key rotates after its payload budget; payloads of old and new keys still decode', async () => {
    const codec = new EncryptionCodec(new LocalKeyFile(keyFile), { maxPayloadsPerDataKey: 2 });
    const sealed = [
      ...(await codec.encode([payloadOf(1), payloadOf(2)])),
      ...(await codec.encode([payloadOf(3)])),
    ];
    const wrappedKeys = new Set(sealed.map((p) => text(p.metadata?.[METADATA_DATA_KEY])));
    expect(wrappedKeys.size).toBe(2);
    await expect(codec.decode(sealed).then((opened) => opened.map(valueOf))).resolves.toEqual([1, 2, 3]);
  });

  test('a key file that does not hold a 256-bit key stops the process with a message naming it', () => {
    expect(() => new LocalKeyFile(__filename)).toThrow(/must hold a base64 32-byte key/);
  });
});

describe('with a KMS key (moto)', () => {
  let kms: KMSClient;
  let kmsKeyId: string;
  const calls: string[] = [];

  beforeAll(async () => {
    // The stack's moto serves KMS too; the global setup exports its endpoint.
    kms = new KMSClient({ region: 'us-east-1', endpoint: process.env.AWS_ENDPOINT_URL_KMS });
    kms.middlewareStack.add(
      (next, context) => (args) => {
        calls.push(context.commandName ?? '');
        return next(args);
      },
      { step: 'initialize' },
    );
    const created = await kms.send(new CreateKeyCommand({ Description: 'payload codec test' }));
    kmsKeyId = created.KeyMetadata!.KeyId!;
  });

  afterAll(() => kms?.destroy());

  beforeEach(() => calls.splice(0));

  test('payloads round-trip through GenerateDataKey and Decrypt, with the key ARN in their metadata', async () => {
    const sealed = await new EncryptionCodec(new KmsKey(kms, kmsKeyId)).encode([
      payloadOf({ value: SECRET }),
    ]);
    expect(sealed.some(containsSecret)).toBe(false);
    expect(text(sealed[0]?.metadata?.[METADATA_KEY_ID])).toMatch(
      new RegExp(`^arn:aws:kms:.*:key/${kmsKeyId}$`),
    );

    const opened = await new EncryptionCodec(new KmsKey(kms, kmsKeyId)).decode(sealed);
    expect(opened.map(valueOf)).toEqual([{ value: SECRET }]);
    expect(calls).toEqual(['GenerateDataKeyCommand', 'DecryptCommand']);
  });

  test('a history of many payloads under one data key costs one Decrypt: unwrapped keys are cached', async () => {
    const payloads = Array.from({ length: 50 }, (_, i) => payloadOf({ value: `${SECRET}-${i}` }));
    const sealed = await new EncryptionCodec(new KmsKey(kms, kmsKeyId)).encode(payloads);
    calls.splice(0);
    const reader = new EncryptionCodec(new KmsKey(kms, kmsKeyId));
    await reader.decode(sealed.slice(0, 25));
    await reader.decode(sealed.slice(25));
    expect(calls).toEqual(['DecryptCommand']);
  });

  test('the cache of unwrapped keys is bounded: past its size the oldest is unwrapped again', async () => {
    const histories = await Promise.all(
      [1, 2, 3].map(() => new EncryptionCodec(new KmsKey(kms, kmsKeyId)).encode([payloadOf(SECRET)])),
    );
    calls.splice(0);
    const reader = new EncryptionCodec(new KmsKey(kms, kmsKeyId), { dataKeyCacheSize: 2 });
    for (const sealed of [...histories, histories[0]!]) await reader.decode(sealed);
    expect(calls).toEqual(['DecryptCommand', 'DecryptCommand', 'DecryptCommand', 'DecryptCommand']);
  });

  test('an altered KMS-wrapped data key is refused as undecryptable', async () => {
    const [sealed] = await new EncryptionCodec(new KmsKey(kms, kmsKeyId)).encode([payloadOf(SECRET)]);
    const tampered = {
      ...sealed!,
      metadata: {
        ...sealed!.metadata,
        [METADATA_DATA_KEY]: flipLastByte(sealed!.metadata![METADATA_DATA_KEY]!),
      },
    };
    await expect(new EncryptionCodec(new KmsKey(kms, kmsKeyId)).decode([tampered])).rejects.toBeInstanceOf(
      PayloadUndecryptableError,
    );
  });
});

describe('settings', () => {
  test('exactly one of PAYLOAD_KEY_FILE and PAYLOAD_KMS_KEY_ID is required', () => {
    expect(() => loadTemporalSettings({})).toThrow(/PAYLOAD_KEY_FILE: set exactly one/);
    expect(() => loadTemporalSettings({ PAYLOAD_KEY_FILE: 'k', PAYLOAD_KMS_KEY_ID: 'alias/x' })).toThrow(
      /set exactly one/,
    );
    expect(
      loadTemporalSettings({ PAYLOAD_KMS_KEY_ID: 'alias/x', AWS_REGION: 'eu-west-1' }).payloadEncryption,
    ).toEqual({
      kind: 'kms',
      keyId: 'alias/x',
      region: 'eu-west-1',
      endpoint: undefined,
    });
  });
});

function flipLastByte(bytes: Uint8Array): Uint8Array {
  const copy = Uint8Array.from(bytes);
  copy[copy.length - 1] = (copy[copy.length - 1] ?? 0) ^ 0x01;
  return copy;
}
