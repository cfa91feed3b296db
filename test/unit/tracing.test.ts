import { context, propagation, trace } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { createLogger } from '../../common/logger';
import { loadTracingSettings, SettingsError } from '../../common/settings';
import { startTracing, type Tracing } from '../../common/tracing';

/**
 * The process's tracing set-up (common/tracing.ts): off unless configured, and bounded when on, so a
 * receiver that is down or hangs costs a process a fixed amount of memory and its shutdown a fixed time.
 */
const logger = createLogger({ component: 'test' }, 'error');
let tracing: Tracing | undefined;

afterEach(async () => {
  await tracing?.shutdown();
  tracing = undefined;
  // The API's globals, so each test installs its own provider.
  trace.disable();
  propagation.disable();
  context.disable();
});

/** An exporter whose receiver never answers: every export hangs. */
function hangingExporter(): SpanExporter & { received: number } {
  const exporter = {
    received: 0,
    export(spans: ReadableSpan[]) {
      exporter.received += spans.length;
    },
    shutdown: () => Promise.resolve(),
  };
  return exporter;
}

test('without OTEL_EXPORTER_OTLP_ENDPOINT tracing is off and spans are no-ops', () => {
  tracing = startTracing('config-service', logger, loadTracingSettings({}));
  expect(tracing.enabled).toBe(false);
  expect(trace.getTracer('t').startSpan('s').isRecording()).toBe(false);
});

test('OTEL_SDK_DISABLED=true turns it off even with an endpoint', () => {
  const settings = loadTracingSettings({
    OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318',
    OTEL_SDK_DISABLED: 'true',
  });
  expect(startTracing('config-service', logger, settings).enabled).toBe(false);
});

test('a malformed tracing variable stops the process with its name', () => {
  expect(() => loadTracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'not a url' })).toThrow(
    new SettingsError('invalid environment: OTEL_EXPORTER_OTLP_ENDPOINT: Invalid url'),
  );
  expect(() => loadTracingSettings({ OTEL_TRACES_SAMPLER_ARG: '2' })).toThrow(/OTEL_TRACES_SAMPLER_ARG/);
  expect(() => loadTracingSettings({ OTEL_BSP_MAX_QUEUE_SIZE: '0' })).toThrow(/OTEL_BSP_MAX_QUEUE_SIZE/);
});

test('spans carry the process name, OTEL_SERVICE_NAME overriding it', () => {
  const settings = loadTracingSettings({ OTEL_SERVICE_NAME: 'billing' });
  tracing = startTracing('orders', logger, settings, hangingExporter());
  expect(tracing.enabled && tracing.resource.attributes['service.name']).toBe('billing');
});

test('with the receiver hanging, spans past the queue are dropped, not held, and shutdown ends within the export timeout', async () => {
  const exporter = hangingExporter();
  const settings = loadTracingSettings({
    OTEL_BSP_MAX_QUEUE_SIZE: '50',
    OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '10',
    OTEL_BSP_SCHEDULE_DELAY: '10',
    OTEL_EXPORTER_OTLP_TIMEOUT: '300',
  });
  tracing = startTracing('rollout-worker', logger, settings, exporter);
  const tracer = trace.getTracer('t');
  const began = Date.now();
  for (let i = 0; i < 5000; i += 1) {
    tracer.startSpan('push').end();
    if (i % 100 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
  }
  // Ending a span never waits for the receiver.
  expect(Date.now() - began).toBeLessThan(2000);
  // One export in flight at a time and the queue's 50 behind it: the rest were dropped.
  expect(exporter.received).toBeLessThanOrEqual(50);
  const stopping = Date.now();
  await tracing.shutdown();
  expect(Date.now() - stopping).toBeLessThan(1500);
  expect(exporter.received).toBeLessThanOrEqual(100);
});

test('parent-based sampling: a sampled caller is kept even when the ratio samples no root', async () => {
  const names: string[] = [];
  const exporter: SpanExporter = {
    export: (spans, done) => {
      names.push(...spans.map((span) => span.name));
      done({ code: ExportResultCode.SUCCESS });
    },
    shutdown: () => Promise.resolve(),
  };
  const settings = loadTracingSettings({
    OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
    OTEL_TRACES_SAMPLER_ARG: '0',
    OTEL_BSP_SCHEDULE_DELAY: '10',
  });
  tracing = startTracing('config-service', logger, settings, exporter);
  const tracer = trace.getTracer('t');
  tracer.startSpan('root').end();
  const caller = propagation.extract(context.active(), {
    traceparent: `00-${'a1'.repeat(16)}-${'b2'.repeat(8)}-01`,
  });
  tracer.startSpan('child of a sampled caller', {}, caller).end();
  await tracing.shutdown();
  expect(names).toEqual(['child of a sampled caller']);
});
