import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { otlpEndpoint, traceQueryUrl } from '../../scripts/stack/index';
import { closedPort } from './ports';
import { spawnSource } from './processes';
import { until } from './until';

/** A span as Jaeger's query API answers it (/api/traces/{traceId}). */
export interface JaegerSpan {
  readonly traceID: string;
  readonly spanID: string;
  readonly operationName: string;
  /** Microseconds since the epoch. */
  readonly startTime: number;
  readonly references: readonly { refType: string; traceID: string; spanID: string }[];
  readonly tags: readonly { key: string; value: unknown }[];
  readonly processID: string;
}

export interface JaegerTrace {
  readonly traceID: string;
  readonly spans: readonly JaegerSpan[];
  readonly processes: Record<string, { serviceName: string }>;
}

/** The trace with this id as Jaeger holds it now, or undefined while it has none of it. */
export async function fetchTrace(
  traceId: string,
  queryUrl = traceQueryUrl(),
): Promise<JaegerTrace | undefined> {
  const response = await fetch(`${queryUrl}/api/traces/${traceId}`);
  if (response.status === 404) return undefined;
  if (!response.ok) throw new Error(`Jaeger answered ${response.status} for trace ${traceId}`);
  const body = (await response.json()) as { data?: JaegerTrace[] };
  return body.data?.[0];
}

/** Traces of `service` holding a span named `operation` with these tags (Jaeger's search). */
export async function searchTraces(
  service: string,
  tags: Record<string, string>,
  operation: string,
  queryUrl = traceQueryUrl(),
): Promise<JaegerTrace[]> {
  const query = new URLSearchParams({
    service,
    operation,
    tags: JSON.stringify(tags),
    limit: '100',
    lookback: '1h',
  });
  const response = await fetch(`${queryUrl}/api/traces?${query.toString()}`);
  if (!response.ok) throw new Error(`Jaeger answered ${response.status} for a search of ${service}`);
  return ((await response.json()) as { data?: JaegerTrace[] }).data ?? [];
}

/** Waits until the trace holds at least what `complete` asks for (spans arrive in batches, process by process). */
export function traceWhen(
  traceId: string,
  complete: (trace: JaegerTrace) => boolean,
  seconds = 30,
  queryUrl = traceQueryUrl(),
): Promise<JaegerTrace> {
  return until(
    `trace ${traceId} complete`,
    async () => {
      const trace = await fetchTrace(traceId, queryUrl);
      return trace && complete(trace) ? trace : undefined;
    },
    seconds,
  );
}

export const tagOf = (span: JaegerSpan, key: string): unknown =>
  span.tags.find((tag) => tag.key === key)?.value;
export const serviceOf = (trace: JaegerTrace, span: JaegerSpan): string | undefined =>
  trace.processes[span.processID]?.serviceName;
export const parentOf = (span: JaegerSpan): string | undefined =>
  span.references.find((reference) => reference.refType === 'CHILD_OF')?.spanID;

/** A fresh W3C traceparent, sampled: `00-<trace id>-<span id>-01`. */
export function newTraceparent(): { traceparent: string; traceId: string; spanId: string } {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  return { traceparent: `00-${traceId}-${spanId}-01`, traceId, spanId };
}

/** Spans exported soon after they end, so a test waits for them in tenths of seconds rather than seconds. */
export const FAST_EXPORT = { OTEL_BSP_SCHEDULE_DELAY: '100', OTEL_EXPORTER_OTLP_TIMEOUT: '2000' };

/** A config service as its own process (service.name config-service), its spans sent to `endpoint`. */
export async function spawnTracedConfigService(
  queue: string,
  endpoint = otlpEndpoint(),
  env: Record<string, string> = {},
): Promise<{ httpUrl: string; grpcAddress: string; process: ChildProcess }> {
  const [httpPort, grpcPort] = [await closedPort(), await closedPort()];
  const child = spawnSource('server/main.ts', {
    ...tracingEnv(queue, endpoint, env),
    HTTP_PORT: String(httpPort),
    GRPC_PORT: String(grpcPort),
    BIND_ADDRESS: '127.0.0.1',
    CONFIG_CACHE_TTL_MS: '1000',
  });
  const httpUrl = `http://127.0.0.1:${httpPort}`;
  await until(
    'the traced config service answers',
    async () => ((await fetch(`${httpUrl}/healthz`)).ok ? true : undefined),
    60,
  );
  return { httpUrl, grpcAddress: `127.0.0.1:${grpcPort}`, process: child };
}

/**
 * The config service and a rollout worker as their own processes (each its own service.name), both
 * sending spans to `endpoint` (default: the stack's Jaeger), the worker serving `queue`.
 */
export async function spawnTracedPlatform(
  queue: string,
  endpoint = otlpEndpoint(),
  env: Record<string, string> = {},
): Promise<{ httpUrl: string; grpcAddress: string; processes: ChildProcess[] }> {
  const worker = spawnSource('server/worker.ts', {
    ...tracingEnv(queue, endpoint, env),
    WORKER_HEALTH_PORT: '0',
    CONFIG_CACHE_TTL_MS: '1000',
  });
  const { process: configService, ...reached } = await spawnTracedConfigService(queue, endpoint, env);
  return { ...reached, processes: [configService, worker] };
}

function tracingEnv(queue: string, endpoint: string, env: Record<string, string>): Record<string, string> {
  return { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, ...FAST_EXPORT, TEMPORAL_TASK_QUEUE: queue, ...env };
}

/** Starts a rollout through the REST API at `httpUrl` as `token`'s holder, with extra request headers. */
export async function startRolloutOver(
  httpUrl: string,
  token: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${httpUrl}/v1/rollouts`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** Waits until the rollout reads SUCCEEDED through the REST API. */
export async function rolloutSucceeded(httpUrl: string, token: string, rolloutId: string, seconds = 90) {
  await until(
    `rollout ${rolloutId} SUCCEEDED`,
    async () => {
      const response = await fetch(`${httpUrl}/v1/rollouts/${encodeURIComponent(rolloutId)}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      const { state } = (await response.json()) as { state?: string };
      return state === 'SUCCEEDED' ? true : undefined;
    },
    seconds,
  );
}
