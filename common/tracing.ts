import { diag, DiagLogLevel } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { Resource } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  type Sampler,
  type SpanExporter,
  type SpanProcessor,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import type { Logger } from './logger';
import { loadTracingSettings, type TracingSettings } from './settings';

/** The process's tracing: on, with the processor and resource Temporal's workflow exporter needs, or off. */
export type Tracing =
  | {
      readonly enabled: true;
      readonly spanProcessor: SpanProcessor;
      readonly resource: Resource;
      /** Exports what is queued now (a Lambda, before it is frozen). */
      flush(): Promise<void>;
      /** Exports what is queued (each export bounded by OTEL_EXPORTER_OTLP_TIMEOUT), then stops. */
      shutdown(): Promise<void>;
    }
  | { readonly enabled: false; flush(): Promise<void>; shutdown(): Promise<void> };

/**
 * Installs the process-wide tracer provider: spans batched in a bounded queue and sent over OTLP
 * (protobuf over HTTP) to OTEL_EXPORTER_OTLP_ENDPOINT, W3C trace context on the wire, the active span
 * carried through async calls by AsyncLocalStorage. Without an endpoint nothing is installed and the
 * OpenTelemetry API stays its no-op self, so instrumented code costs nothing.
 *
 * `serviceName` names the process (config-service, rollout-worker, ...); OTEL_SERVICE_NAME overrides it.
 * `exporter` replaces the OTLP exporter (unit tests).
 */
export function startTracing(
  serviceName: string,
  logger: Logger,
  settings: TracingSettings = loadTracingSettings(),
  exporter?: SpanExporter,
): Tracing {
  const { endpoint } = settings;
  if (endpoint === undefined && exporter === undefined) {
    return { enabled: false, flush: () => Promise.resolve(), shutdown: () => Promise.resolve() };
  }
  // Export failures (receiver down, timed out) reach OpenTelemetry's diagnostics: one line per failed batch.
  diag.setLogger(
    {
      error: (message, ...args) => logger.warn(`tracing: ${message}`, { detail: args.map(String) }),
      warn: (message, ...args) => logger.warn(`tracing: ${message}`, { detail: args.map(String) }),
      info: () => {},
      debug: () => {},
      verbose: () => {},
    },
    { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
  );
  const resource = new Resource({ [ATTR_SERVICE_NAME]: settings.serviceName ?? serviceName });
  const spanProcessor = new BatchSpanProcessor(
    exporter ??
      new OTLPTraceExporter({
        url: `${endpoint!.replace(/\/+$/, '')}/v1/traces`,
        timeoutMillis: settings.exportTimeoutMs,
      }),
    {
      maxQueueSize: settings.maxQueueSize,
      maxExportBatchSize: settings.maxExportBatchSize,
      scheduledDelayMillis: settings.scheduledDelayMs,
      exportTimeoutMillis: settings.exportTimeoutMs,
    },
  );
  const provider = new NodeTracerProvider({
    resource,
    sampler: samplerOf(settings),
    spanProcessors: [spanProcessor],
  });
  provider.register({ propagator: new W3CTraceContextPropagator() });
  return {
    enabled: true,
    spanProcessor,
    resource,
    flush: () =>
      provider.forceFlush().catch((error: unknown) => logger.warn('tracing: flush failed', { error })),
    shutdown: () =>
      provider.shutdown().catch((error: unknown) => logger.warn('tracing: shutdown failed', { error })),
  };
}

function samplerOf(settings: TracingSettings): Sampler {
  switch (settings.sampler) {
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(settings.samplerRatio) });
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}
