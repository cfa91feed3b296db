import { Client, Connection } from '@temporalio/client';
import type { PayloadCodec } from '@temporalio/common';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry';
import type { TemporalSettings } from '../common/settings';
import { payloadCodecFor, temporalDataConverter } from './payloadEncryption/dataConverter';

/** Connection options shared by the worker (NativeConnection) and clients (Connection). */
export function temporalConnectionOptions(settings: TemporalSettings): {
  address: string;
  tls?: boolean;
  apiKey?: string;
} {
  return {
    address: settings.address,
    ...(settings.tls ? { tls: true } : {}),
    ...(settings.apiKey ? { apiKey: settings.apiKey } : {}),
  };
}

/**
 * A Temporal client that encrypts every payload it sends and decrypts what it reads. `lazy` connects on
 * first use, so a server keeps serving what needs no Temporal while Temporal is unreachable. With
 * `traced` (the process installed a tracer provider: common/tracing.ts), its calls (StartWorkflow, the
 * steering updates) are spans of the caller's trace and carry its context to the workflow in a header.
 * Only then: Temporal's TypeScript SDK passes headers past the payload codec (temporalio/features#331),
 * so that header is the one payload of a history in the clear, and it holds nothing but the trace ids.
 */
export async function createTemporalClient(
  settings: TemporalSettings,
  options: { lazy?: boolean; codec?: PayloadCodec; traced?: boolean } = {},
): Promise<Client> {
  const connectionOptions = temporalConnectionOptions(settings);
  return new Client({
    connection: options.lazy
      ? Connection.lazy(connectionOptions)
      : await Connection.connect(connectionOptions),
    namespace: settings.namespace,
    dataConverter: temporalDataConverter(options.codec ?? payloadCodecFor(settings.payloadEncryption)),
    ...(options.traced ? { interceptors: { workflow: [new OpenTelemetryWorkflowClientInterceptor()] } } : {}),
  });
}
