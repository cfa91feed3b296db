import type { DataConverter, PayloadCodec } from '@temporalio/common';
import { temporalDataConverter } from '../../rolloutClient/payloadEncryption/dataConverter';

/**
 * The module the worker loads by path for its failure converter. Resolved here, in a module only the
 * worker side imports: the Lambda's bundle has no such file to resolve.
 */
export const FAILURE_CONVERTER_PATH = require.resolve('./failureConverter');

/** The worker's data converter: the clients' codec, and failures sealed too. */
export function workerDataConverter(codec: PayloadCodec): DataConverter {
  return { ...temporalDataConverter(codec), failureConverterPath: FAILURE_CONVERTER_PATH };
}
