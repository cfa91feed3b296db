import * as grpc from '@grpc/grpc-js';
import { context, propagation, trace } from '@opentelemetry/api';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { createLogger } from '../../common/logger';
import { loadTracingSettings } from '../../common/settings';
import { startTracing, type Tracing } from '../../common/tracing';
import { withServerSpans } from '../../server/tracing/grpcSpans';

/**
 * ConfigService's spans (server/tracing/grpcSpans.ts): a call is a span only inside a caller's trace.
 * Instances read by the thousand a second; bench:obs measured a span made (and dropped) per bare read
 * at a fifth of the calls. The whole chain against a real receiver: test/integration/rolloutTrace.test.ts.
 */
const CALLER = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7' };
let tracing: Tracing;
let exporter: InMemorySpanExporter;

// One provider for the file: the module's tracer is a proxy of the provider registered when it first
// starts a span, so a provider per test would leave it on the first, shut down.
beforeAll(() => {
  exporter = new InMemorySpanExporter();
  tracing = startTracing(
    'config-service',
    createLogger({ component: 'test' }, 'error'),
    loadTracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1', OTEL_BSP_SCHEDULE_DELAY: '10' }),
    exporter,
  );
});

beforeEach(() => exporter.reset());

afterAll(async () => {
  await tracing.shutdown();
  trace.disable();
  propagation.disable();
  context.disable();
});

async function call(metadata: grpc.Metadata): Promise<void> {
  const handlers = withServerSpans('configsvc.v1.ConfigService', {
    GetConfig: (_call: unknown, callback: grpc.sendUnaryData<unknown>) => callback(null, {}),
  });
  const getConfig = handlers.GetConfig as grpc.handleUnaryCall<unknown, unknown>;
  await new Promise<void>((resolve) =>
    getConfig({ metadata, request: {} } as grpc.ServerUnaryCall<unknown, unknown>, () => resolve()),
  );
  await tracing.flush();
}

test('a call without trace context is answered and starts no trace', async () => {
  await call(new grpc.Metadata());
  expect(exporter.getFinishedSpans()).toHaveLength(0);
});

test('a call with a malformed traceparent starts none either', async () => {
  const metadata = new grpc.Metadata();
  metadata.set('traceparent', `00-${'0'.repeat(32)}-${CALLER.spanId}-01`);
  await call(metadata);
  expect(exporter.getFinishedSpans()).toHaveLength(0);
});

test("a call in a caller's sampled trace is a server span, the child of the caller's", async () => {
  const metadata = new grpc.Metadata();
  metadata.set('traceparent', `00-${CALLER.traceId}-${CALLER.spanId}-01`);
  await call(metadata);
  const [span, ...others] = exporter.getFinishedSpans();
  expect(others).toHaveLength(0);
  expect(span?.name).toBe('configsvc.v1.ConfigService/GetConfig');
  expect(span?.spanContext().traceId).toBe(CALLER.traceId);
  expect(span?.parentSpanId).toBe(CALLER.spanId);
  expect(span?.attributes['rpc.grpc.status_code']).toBe(grpc.status.OK);
});
