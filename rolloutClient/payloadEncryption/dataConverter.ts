import { KMSClient } from '@aws-sdk/client-kms';
import type { DataConverter, PayloadCodec } from '@temporalio/common';
import type { PayloadEncryptionSettings } from '../../common/settings';
import { EncryptionCodec } from './encryptionCodec';
import { KmsKey } from './kmsKey';
import { LocalKeyFile } from './localKeyFile';

/** The payload codec the settings ask for: a KMS key on AWS, the key file on the local stack. */
export function payloadCodecFor(settings: PayloadEncryptionSettings): EncryptionCodec {
  if (settings.kind === 'kms') {
    const kms = new KMSClient({ region: settings.region, endpoint: settings.endpoint });
    return new EncryptionCodec(new KmsKey(kms, settings.keyId));
  }
  return new EncryptionCodec(new LocalKeyFile(settings.keyFile));
}

/** What every Temporal client uses (the worker adds its failure converter: workerDataConverter.ts). */
export function temporalDataConverter(codec: PayloadCodec): DataConverter {
  return { payloadCodecs: [codec] };
}
