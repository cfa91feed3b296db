import { StackError } from './errors';

/** A port with its default and the environment variable that overrides it. */
export interface PortSetting {
  envVar: string;
  defaultPort: number;
}

export const PORTS = {
  temporal: { envVar: 'TEMPORAL_PORT', defaultPort: 7233 },
  temporalUi: { envVar: 'TEMPORAL_UI_PORT', defaultPort: 8233 },
  dynamodb: { envVar: 'DYNAMODB_PORT', defaultPort: 8000 },
  moto: { envVar: 'MOTO_PORT', defaultPort: 5000 },
  issuer: { envVar: 'ISSUER_PORT', defaultPort: 8090 },
  configHttp: { envVar: 'HTTP_PORT', defaultPort: 8080 },
  configGrpc: { envVar: 'GRPC_PORT', defaultPort: 50051 },
  workerHealth: { envVar: 'WORKER_HEALTH_PORT', defaultPort: 8091 },
  localEventBridge: { envVar: 'LOCAL_EVENTBRIDGE_PORT', defaultPort: 8092 },
  // Metrics: each process serves /metrics on a port of its own, and the stack's Prometheus scrapes them.
  configMetrics: { envVar: 'METRICS_PORT', defaultPort: 9464 },
  workerRuntimeMetrics: { envVar: 'WORKER_RUNTIME_METRICS_PORT', defaultPort: 9465 },
  temporalMetrics: { envVar: 'TEMPORAL_METRICS_PORT', defaultPort: 8236 },
  prometheus: { envVar: 'PROMETHEUS_PORT', defaultPort: 9090 },
  // The trace receiver (Jaeger): OTLP in, its UI and query API out.
  otlpGrpc: { envVar: 'OTLP_GRPC_PORT', defaultPort: 4317 },
  otlpHttp: { envVar: 'OTLP_HTTP_PORT', defaultPort: 4318 },
  jaegerUi: { envVar: 'JAEGER_UI_PORT', defaultPort: 16686 },
  jaegerQueryGrpc: { envVar: 'JAEGER_QUERY_GRPC_PORT', defaultPort: 16685 },
} as const satisfies Record<string, PortSetting>;

/** Every server of the stack binds here only. */
export const STACK_HOST = '127.0.0.1';

export function resolvePort(setting: PortSetting): number {
  const raw = process.env[setting.envVar];
  if (raw === undefined || raw === '') return setting.defaultPort;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new StackError(`${setting.envVar}=${raw} is not a port number (1-65535)`);
  }
  return port;
}
