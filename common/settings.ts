import { z } from 'zod';
import { isIPv4 } from 'node:net';
import { MAX_ALARM_SELECTORS } from './alarms';
import { DEFAULT_CLOUD_MAP_NAMESPACE } from './cloudMap';
import { DEFAULT_CONFIG_TABLE, DEFAULT_PORTS, DEFAULT_SCHEMA_TABLE } from './constants';
import { DEFAULT_INSTANCE_GRANT_TTL_SECONDS, MAX_INSTANCE_GRANT_TTL_SECONDS } from './instanceGrant';
import { ROLLOUT_TASK_QUEUE } from './rollout';

/**
 * Every setting the platform reads from the environment, validated in one place at start-up.
 * A missing or malformed variable stops the process with a message that names it.
 */

const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);
const optionalUrl = z.string().url().optional();
const positive = (fallback: number) => z.coerce.number().int().min(1).default(fallback);
/** `a, b,c`: the items, trimmed; empty when unset. */
const commaList = z
  .string()
  .default('')
  .transform((list) =>
    list
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean),
  );

const awsSchema = z.object({
  AWS_REGION: z.string().min(1).default('us-east-1'),
  AWS_ENDPOINT_URL_DYNAMODB: optionalUrl,
  AWS_ENDPOINT_URL_SSM: optionalUrl,
  AWS_ENDPOINT_URL_SERVICEDISCOVERY: optionalUrl,
  AWS_ENDPOINT_URL_CLOUDWATCH: optionalUrl,
});

const storageSchema = z.object({
  CONFIG_TABLE: z.string().min(3).default(DEFAULT_CONFIG_TABLE),
  SCHEMA_TABLE: z.string().min(3).default(DEFAULT_SCHEMA_TABLE),
  SSM_PARAMETER_TIER: z.enum(['Standard', 'Advanced']).default('Standard'),
  // Value schemas are compiled and checked on these threads, never on an event loop that serves others.
  SCHEMA_EVALUATION_THREADS: z.coerce.number().int().min(1).max(16).default(2),
  SCHEMA_EVALUATION_BUDGET_MS: z.coerce.number().int().min(50).max(60_000).default(2000),
  SCHEMA_EVALUATION_MEMORY_MB: z.coerce.number().int().min(32).max(4096).default(256),
  SCHEMA_EVALUATION_CACHE_ENTRIES: z.coerce.number().int().min(1).max(10_000).default(50),
  SCHEMA_EVALUATION_QUEUE_PER_TENANT: z.coerce.number().int().min(1).max(1000).default(8),
});

const authSchema = z
  .object({
    COGNITO_USER_POOL_ID: z
      .string()
      .regex(/^[\w-]+_\w+$/, 'expected a user pool id such as us-east-1_AbC123'),
    COGNITO_CLIENT_ID: z.string().min(1),
    COGNITO_TOKEN_USE: z.enum(['access', 'id']).default('access'),
    // Only for the local stack: where to fetch the keys of the local issuer that stands in for Cognito.
    LOCAL_ISSUER_JWKS_URL: optionalUrl,
  })
  .refine((s) => !s.LOCAL_ISSUER_JWKS_URL || isLoopback(s.LOCAL_ISSUER_JWKS_URL), {
    message: 'must point at a loopback address (127.0.0.1, localhost or [::1])',
    path: ['LOCAL_ISSUER_JWKS_URL'],
  });

/**
 * The config service's read cache; the worker reads it too, to wait it out after a promotion. Capped so
 * that instances can bound how stale a read may be (sdk/heldConfig.ts, REMOVAL_SETTLE_MS).
 */
const configCacheTtlMs = z.coerce.number().int().min(0).max(60_000).default(5000);

const serverSchema = z.object({
  BIND_ADDRESS: z.string().min(1).default('127.0.0.1'),
  GRPC_PORT: port(DEFAULT_PORTS.grpc),
  HTTP_PORT: port(DEFAULT_PORTS.http),
  CONFIG_CACHE_TTL_MS: configCacheTtlMs,
  CONFIG_CACHE_MAX_ENTRIES: z.coerce.number().int().min(1).default(10000),
  /** The private key the config service signs instance grants with (IssueInstanceGrant). */
  INSTANCE_GRANT_SIGNING_KEY_FILE: z.string().min(1),
  INSTANCE_GRANT_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(60)
    .max(MAX_INSTANCE_GRANT_TTL_SECONDS)
    .default(DEFAULT_INSTANCE_GRANT_TTL_SECONDS),
  // The Temporal UI's origins (comma-separated) that may call the codec endpoint from a browser.
  CODEC_CORS_ORIGINS: commaList.pipe(z.array(z.string().url())),
  CONFIG_CACHE_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(64 * 1024)
    .default(64 * 1024 * 1024),
  CONFIG_CACHE_NEGATIVE_TTL_MS: z.coerce.number().int().min(0).max(60_000).default(1000),
  RATE_LIMIT_IDENTITY_PER_SECOND: positive(200),
  RATE_LIMIT_IDENTITY_BURST: positive(400),
  RATE_LIMIT_TENANT_PER_SECOND: positive(1000),
  RATE_LIMIT_TENANT_BURST: positive(2000),
  RATE_LIMIT_TRACKED: positive(10_000),
  STREAMS_PER_IDENTITY: positive(5),
  STREAMS_PER_TENANT: positive(50),
  RUNNING_ROLLOUTS_PER_TENANT: positive(10),
  /**
   * The rollout worker's push verify key. With it, the replica registers in Cloud Map under the reserved
   * service, so promotions reach its read cache and rollouts end without waiting the TTL out. Every
   * replica of a deployment must have it (or none): the worker cannot tell of one that did not register.
   */
  PUSH_VERIFY_KEY_FILE: z.string().min(1).optional(),
  CLOUD_MAP_NAMESPACE: z.string().min(1).default(DEFAULT_CLOUD_MAP_NAMESPACE),
  /** Where the read-cache notices are served; 0 picks a free port (the registration names it). */
  READ_CACHE_NOTICE_PORT: port(0),
  /** The IPv4 registered for the notices when BIND_ADDRESS cannot be (0.0.0.0). */
  READ_CACHE_ADVERTISE_ADDRESS: z.string().ip({ version: 'v4' }).optional(),
  /**
   * The web console's Cognito hosted UI (the user pool domain, e.g. https://auth.example.com) and its app
   * client: public, without a secret. Unset, the console signs in with a pasted token only.
   */
  CONSOLE_COGNITO_DOMAIN: z
    .string()
    .url()
    // The authorization code and the tokens cross this origin: never in the clear, but on loopback.
    .refine(
      (url) => url.startsWith('https://') || (URL.canParse(url) && isLoopback(url)),
      'must be https (http only on loopback)',
    )
    .optional(),
  CONSOLE_CLIENT_ID: z.string().min(1).optional(),
  /** The callback URL registered on the app client; unset, the console uses its own /console/ URL. */
  CONSOLE_REDIRECT_URI: z.string().url().optional(),
});

/**
 * Every process that talks to Temporal encrypts payloads (rolloutClient/payloadEncryption): with a key file on
 * the local stack, a KMS key on AWS. Exactly one, so a deployment never runs with the wrong one by accident.
 */
const temporalSchema = z
  .object({
    TEMPORAL_ADDRESS: z.string().min(1).default(`127.0.0.1:${DEFAULT_PORTS.temporal}`),
    TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
    TEMPORAL_TASK_QUEUE: z.string().min(1).default(ROLLOUT_TASK_QUEUE),
    TEMPORAL_TLS: z.enum(['true', 'false']).default('false'),
    TEMPORAL_API_KEY: z.string().min(1).optional(),
    PAYLOAD_KEY_FILE: z.string().min(1).optional(),
    PAYLOAD_KMS_KEY_ID: z.string().min(1).optional(),
    AWS_REGION: z.string().min(1).default('us-east-1'),
    AWS_ENDPOINT_URL_KMS: optionalUrl,
  })
  .refine((s) => (s.PAYLOAD_KEY_FILE === undefined) !== (s.PAYLOAD_KMS_KEY_ID === undefined), {
    message: 'set exactly one of PAYLOAD_KEY_FILE (local stack) and PAYLOAD_KMS_KEY_ID (AWS)',
    path: ['PAYLOAD_KEY_FILE'],
  });

/** `10.0.0.0/8,172.16.0.0/12`: IPv4 CIDRs. */
const cidrList = z
  .string()
  .transform((list) =>
    list
      .split(',')
      .map((cidr) => cidr.trim())
      .filter(Boolean),
  )
  .pipe(
    z
      .array(z.string().refine(isIpv4Cidr, 'expected IPv4 CIDRs such as 10.0.0.0/8, separated by commas'))
      .min(1),
  );

/** `1024-65535` or `8443,9000-9100`: inclusive port ranges. */
const portRanges = z
  .string()
  .transform((list, context) =>
    list
      .split(',')
      .map((range) => range.trim())
      .filter(Boolean)
      .map((range) => {
        const match = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(range);
        const from = Number(match?.[1]);
        const to = Number(match?.[2] ?? match?.[1]);
        if (!match || from < 1 || to > 65535 || from > to) {
          context.addIssue({
            code: 'custom',
            message: `"${range}" is not a port or a range such as 1024-65535`,
          });
        }
        return { from, to };
      }),
  )
  .pipe(z.array(z.object({ from: z.number(), to: z.number() })).min(1));

const rolloutWorkerSchema = z
  .object({
    PUSH_SIGNING_KEY_FILE: z.string().min(1),
    /** The config service's public key for instance grants: only registrations holding one are pushed to. */
    INSTANCE_GRANT_VERIFY_KEY_FILE: z.string().min(1),
    /** Where pushes may go. The default is the private ranges; on AWS, the VPC's CIDR. */
    INSTANCE_ALLOWED_CIDRS: cidrList.default('10.0.0.0/8,172.16.0.0/12,192.168.0.0/16'),
    INSTANCE_ALLOWED_PORTS: portRanges.default('1024-65535'),
    MAX_INSTANCES_PER_ROLLOUT: z.coerce.number().int().min(1).max(10_000).default(2000),
    /**
     * TLS towards instances: the CA their certificates chain to (on: every push is TLS), and for mutual TLS
     * the worker's own certificate and key. An instance's certificate must name `<service><suffix>`.
     */
    PUSH_TLS_CA_FILE: z.string().min(1).optional(),
    PUSH_TLS_CERT_FILE: z.string().min(1).optional(),
    PUSH_TLS_KEY_FILE: z.string().min(1).optional(),
    PUSH_TLS_SERVER_NAME_SUFFIX: z
      .string()
      .regex(/^(\.[a-z0-9-]+)+$/, 'a DNS suffix such as .cache-refresh')
      .default('.cache-refresh'),
    CLOUD_MAP_NAMESPACE: z.string().min(1).default(DEFAULT_CLOUD_MAP_NAMESPACE),
    BIND_ADDRESS: z.string().min(1).default('127.0.0.1'),
    WORKER_HEALTH_PORT: port(DEFAULT_PORTS.workerHealth),
    CONFIG_CACHE_TTL_MS: configCacheTtlMs,
    /**
     * How often the reconciler's schedule compares every instance with the store and repairs drift (a
     * lost push, removal or rollout); 0 removes the schedule. An instance converges within about this
     * plus one pass.
     */
    RECONCILE_INTERVAL_SECONDS: z.coerce.number().int().min(0).max(86_400).default(60),
    /**
     * Whether a rollout tells the config service's replicas of its promotion (and ends without waiting
     * their TTL out once all acknowledged). `off` always waits: the behaviour before the notices.
     */
    READ_CACHE_NOTICES: z.enum(['on', 'off']).default('on'),
    /**
     * Activities one worker process runs at once (the SDK's default, 100). A fleet shard pushes to
     * `plan.push.concurrency` instances at once: a lower bound leaves a large fleet's other shards to the
     * task queue's other workers instead of queueing them all on the first to poll.
     */
    WORKER_MAX_CONCURRENT_ACTIVITIES: z.coerce.number().int().min(1).max(1000).default(100),
    // Alarm gate.
    /**
     * How often a gated wave asks CloudWatch for its alarms. The floor bounds what one rollout costs
     * CloudWatch (a call per prefix and one for the names, per poll); the ceiling stays inside the watch's
     * heartbeat timeout. A transition between two polls is still caught, from the alarm's history.
     */
    ALARM_POLL_INTERVAL_MS: z.coerce.number().int().min(1000).max(20_000).default(10_000),
    /** Platform-wide alarms (full CloudWatch names, comma-separated) every gated rollout watches too. */
    ROLLOUT_PLATFORM_ALARMS: commaList.pipe(z.array(z.string().max(255)).max(MAX_ALARM_SELECTORS)),
  })
  .refine((s) => (s.PUSH_TLS_CERT_FILE === undefined) === (s.PUSH_TLS_KEY_FILE === undefined), {
    message: 'give PUSH_TLS_CERT_FILE and PUSH_TLS_KEY_FILE together',
    path: ['PUSH_TLS_CERT_FILE'],
  })
  .refine((s) => s.PUSH_TLS_CERT_FILE === undefined || s.PUSH_TLS_CA_FILE !== undefined, {
    message: 'mutual TLS needs PUSH_TLS_CA_FILE (the CA of the instances)',
    path: ['PUSH_TLS_CA_FILE'],
  });

export type AwsSettings = ReturnType<typeof toAwsSettings>;
export type StorageSettings = ReturnType<typeof toStorageSettings>;
export type SchemaEvaluationSettings = StorageSettings['schemaEvaluation'];
export type AuthSettings = ReturnType<typeof toAuthSettings>;
export type ServerSettings = ReturnType<typeof toServerSettings>;
export type LimitSettings = ServerSettings['limits'];
export type TemporalSettings = ReturnType<typeof toTemporalSettings>;
export type RolloutWorkerSettings = ReturnType<typeof toRolloutWorkerSettings>;

export class SettingsError extends Error {}

export type Env = Record<string, string | undefined>;

/** Parses the environment with a schema; the error names every variable at fault. */
export function parseEnv<T>(schema: z.ZodType<T, z.ZodTypeDef, unknown>, env: Env): T {
  // Empty strings count as unset so `FOO=` in an env file falls back to the default.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const result = schema.safeParse(cleaned);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join('.') || '(env)'}: ${i.message}`);
    throw new SettingsError(`invalid environment: ${problems.join('; ')}`);
  }
  return result.data;
}

function toAwsSettings(s: z.infer<typeof awsSchema>) {
  return {
    region: s.AWS_REGION,
    endpoints: {
      dynamodb: s.AWS_ENDPOINT_URL_DYNAMODB,
      ssm: s.AWS_ENDPOINT_URL_SSM,
      serviceDiscovery: s.AWS_ENDPOINT_URL_SERVICEDISCOVERY,
      cloudWatch: s.AWS_ENDPOINT_URL_CLOUDWATCH,
    },
  };
}

function toStorageSettings(s: z.infer<typeof storageSchema>) {
  return {
    tableName: s.CONFIG_TABLE,
    schemaTableName: s.SCHEMA_TABLE,
    ssmParameterTier: s.SSM_PARAMETER_TIER,
    schemaEvaluation: {
      threads: s.SCHEMA_EVALUATION_THREADS,
      budgetMs: s.SCHEMA_EVALUATION_BUDGET_MS,
      memoryMb: s.SCHEMA_EVALUATION_MEMORY_MB,
      cacheEntries: s.SCHEMA_EVALUATION_CACHE_ENTRIES,
      queuePerTenant: s.SCHEMA_EVALUATION_QUEUE_PER_TENANT,
    },
  };
}

function toAuthSettings(s: z.infer<typeof authSchema>) {
  return {
    userPoolId: s.COGNITO_USER_POOL_ID,
    clientId: s.COGNITO_CLIENT_ID,
    tokenUse: s.COGNITO_TOKEN_USE,
    localJwksUrl: s.LOCAL_ISSUER_JWKS_URL,
  };
}

export interface ConsoleSettings {
  readonly hostedUi?: { readonly domain: string; readonly clientId: string; readonly redirectUri?: string };
}

function toConsoleSettings(s: z.infer<typeof serverSchema>): ConsoleSettings {
  if (!s.CONSOLE_COGNITO_DOMAIN && !s.CONSOLE_CLIENT_ID) return {};
  if (!s.CONSOLE_COGNITO_DOMAIN || !s.CONSOLE_CLIENT_ID)
    throw new SettingsError(
      'invalid environment: CONSOLE_COGNITO_DOMAIN and CONSOLE_CLIENT_ID go together: set both or neither',
    );
  return {
    hostedUi: {
      domain: s.CONSOLE_COGNITO_DOMAIN.replace(/\/+$/, ''),
      clientId: s.CONSOLE_CLIENT_ID,
      redirectUri: s.CONSOLE_REDIRECT_URI,
    },
  };
}

function toServerSettings(s: z.infer<typeof serverSchema>) {
  return {
    console: toConsoleSettings(s),
    bindAddress: s.BIND_ADDRESS,
    grpcPort: s.GRPC_PORT,
    httpPort: s.HTTP_PORT,
    cacheTtlMs: s.CONFIG_CACHE_TTL_MS,
    cacheMaxEntries: s.CONFIG_CACHE_MAX_ENTRIES,
    instanceGrantSigningKeyFile: s.INSTANCE_GRANT_SIGNING_KEY_FILE,
    instanceGrantTtlSeconds: s.INSTANCE_GRANT_TTL_SECONDS,
    codecCorsOrigins: s.CODEC_CORS_ORIGINS,
    readCacheNotices: s.PUSH_VERIFY_KEY_FILE
      ? {
          pushVerifyKeyFile: s.PUSH_VERIFY_KEY_FILE,
          namespace: s.CLOUD_MAP_NAMESPACE,
          port: s.READ_CACHE_NOTICE_PORT,
          advertiseAddress: s.READ_CACHE_ADVERTISE_ADDRESS,
        }
      : undefined,
    cacheMaxBytes: s.CONFIG_CACHE_MAX_BYTES,
    // Never longer than the TTL: the rollout waits out only that (see CachedConfigReader).
    cacheNegativeTtlMs: Math.min(s.CONFIG_CACHE_NEGATIVE_TTL_MS, s.CONFIG_CACHE_TTL_MS),
    limits: {
      identityRate: { perSecond: s.RATE_LIMIT_IDENTITY_PER_SECOND, burst: s.RATE_LIMIT_IDENTITY_BURST },
      tenantRate: { perSecond: s.RATE_LIMIT_TENANT_PER_SECOND, burst: s.RATE_LIMIT_TENANT_BURST },
      // How many identities and tenants the limiter keeps buckets for: its own memory is bounded too.
      tracked: s.RATE_LIMIT_TRACKED,
      streamsPerIdentity: s.STREAMS_PER_IDENTITY,
      streamsPerTenant: s.STREAMS_PER_TENANT,
      runningRolloutsPerTenant: s.RUNNING_ROLLOUTS_PER_TENANT,
    },
  };
}

function toTemporalSettings(s: z.infer<typeof temporalSchema>) {
  return {
    address: s.TEMPORAL_ADDRESS,
    namespace: s.TEMPORAL_NAMESPACE,
    taskQueue: s.TEMPORAL_TASK_QUEUE,
    // An API key implies TLS (Temporal Cloud); TEMPORAL_TLS=true alone is TLS with the system's CAs.
    tls: s.TEMPORAL_TLS === 'true' || s.TEMPORAL_API_KEY !== undefined,
    apiKey: s.TEMPORAL_API_KEY,
    payloadEncryption: payloadEncryptionOf(s),
  };
}

export type PayloadEncryptionSettings =
  | { readonly kind: 'keyFile'; readonly keyFile: string }
  | { readonly kind: 'kms'; readonly keyId: string; readonly region: string; readonly endpoint?: string };

function payloadEncryptionOf(s: z.infer<typeof temporalSchema>): PayloadEncryptionSettings {
  if (s.PAYLOAD_KMS_KEY_ID !== undefined) {
    return {
      kind: 'kms',
      keyId: s.PAYLOAD_KMS_KEY_ID,
      region: s.AWS_REGION,
      endpoint: s.AWS_ENDPOINT_URL_KMS,
    };
  }
  return { kind: 'keyFile', keyFile: s.PAYLOAD_KEY_FILE as string };
}

function toRolloutWorkerSettings(s: z.infer<typeof rolloutWorkerSchema>) {
  return {
    pushSigningKeyFile: s.PUSH_SIGNING_KEY_FILE,
    instanceGrantVerifyKeyFile: s.INSTANCE_GRANT_VERIFY_KEY_FILE,
    allowedCidrs: s.INSTANCE_ALLOWED_CIDRS,
    allowedPorts: s.INSTANCE_ALLOWED_PORTS,
    maxInstancesPerRollout: s.MAX_INSTANCES_PER_ROLLOUT,
    pushTls: s.PUSH_TLS_CA_FILE
      ? {
          caFile: s.PUSH_TLS_CA_FILE,
          certFile: s.PUSH_TLS_CERT_FILE,
          keyFile: s.PUSH_TLS_KEY_FILE,
          serverNameSuffix: s.PUSH_TLS_SERVER_NAME_SUFFIX,
        }
      : undefined,
    cloudMapNamespace: s.CLOUD_MAP_NAMESPACE,
    bindAddress: s.BIND_ADDRESS,
    healthPort: s.WORKER_HEALTH_PORT,
    readCacheTtlMs: s.CONFIG_CACHE_TTL_MS,
    reconcileIntervalSeconds: s.RECONCILE_INTERVAL_SECONDS,
    readCacheNotices: s.READ_CACHE_NOTICES === 'on',
    maxConcurrentActivities: s.WORKER_MAX_CONCURRENT_ACTIVITIES,
    // Alarm gate.
    alarmPollIntervalMs: s.ALARM_POLL_INTERVAL_MS,
    platformAlarms: s.ROLLOUT_PLATFORM_ALARMS,
  };
}

export function loadTemporalSettings(env: Env = process.env): TemporalSettings {
  return toTemporalSettings(parseEnv(temporalSchema, env));
}

export function loadRolloutWorkerSettings(env: Env = process.env): RolloutWorkerSettings {
  return toRolloutWorkerSettings(parseEnv(rolloutWorkerSchema, env));
}

export function loadAwsSettings(env: Env = process.env): AwsSettings {
  return toAwsSettings(parseEnv(awsSchema, env));
}

export function loadStorageSettings(env: Env = process.env): StorageSettings {
  return toStorageSettings(parseEnv(storageSchema, env));
}

export function loadAuthSettings(env: Env = process.env): AuthSettings {
  return toAuthSettings(parseEnv(authSchema, env));
}

export function loadServerSettings(env: Env = process.env): ServerSettings {
  return toServerSettings(parseEnv(serverSchema, env));
}

/**
 * Where a process serves Prometheus's /metrics: its own port, never the API's, so that who may read the
 * platform's counters is decided by the network, apart from who may call the API (docs/observability.md).
 */
const metricsSchema = z.object({
  METRICS_BIND_ADDRESS: z.string().min(1).default('127.0.0.1'),
  /** The config service's prom-client registry (the worker serves its own on WORKER_HEALTH_PORT). */
  METRICS_PORT: port(DEFAULT_PORTS.metrics),
  /** The Temporal SDK's runtime metrics of the worker, served by the SDK's core itself. */
  WORKER_RUNTIME_METRICS_PORT: port(DEFAULT_PORTS.workerRuntimeMetrics),
});

export type MetricsSettings = ReturnType<typeof loadMetricsSettings>;

export function loadMetricsSettings(env: Env = process.env) {
  const s = parseEnv(metricsSchema, env);
  return {
    bindAddress: s.METRICS_BIND_ADDRESS,
    port: s.METRICS_PORT,
    workerRuntimePort: s.WORKER_RUNTIME_METRICS_PORT,
  };
}

/**
 * OpenTelemetry traces, by the standard OTEL_* variables (so an ADOT collector's documented set-up works
 * as it is). Without OTEL_EXPORTER_OTLP_ENDPOINT, or with OTEL_SDK_DISABLED=true, tracing is off.
 */
const tracingSchema = z.object({
  OTEL_EXPORTER_OTLP_ENDPOINT: z.string().url().optional(),
  OTEL_SDK_DISABLED: z.enum(['true', 'false']).default('false'),
  OTEL_SERVICE_NAME: z.string().min(1).max(100).optional(),
  // Parent-based: a caller's sampling decision is kept; only a trace's root is sampled by the ratio.
  OTEL_TRACES_SAMPLER: z
    .enum(['parentbased_always_on', 'parentbased_traceidratio', 'parentbased_always_off'])
    .default('parentbased_always_on'),
  OTEL_TRACES_SAMPLER_ARG: z.coerce.number().min(0).max(1).default(1),
  // The export queue is bounded: with the receiver down or slow, spans past it are dropped, never held.
  OTEL_BSP_MAX_QUEUE_SIZE: z.coerce.number().int().min(1).max(100_000).default(2048),
  OTEL_BSP_MAX_EXPORT_BATCH_SIZE: z.coerce.number().int().min(1).max(10_000).default(512),
  OTEL_BSP_SCHEDULE_DELAY: z.coerce.number().int().min(10).max(60_000).default(5000),
  OTEL_EXPORTER_OTLP_TIMEOUT: z.coerce.number().int().min(100).max(60_000).default(10_000),
});

export type TracingSettings = ReturnType<typeof toTracingSettings>;

function toTracingSettings(s: z.infer<typeof tracingSchema>) {
  return {
    endpoint: s.OTEL_SDK_DISABLED === 'true' ? undefined : s.OTEL_EXPORTER_OTLP_ENDPOINT,
    serviceName: s.OTEL_SERVICE_NAME,
    sampler: s.OTEL_TRACES_SAMPLER,
    samplerRatio: s.OTEL_TRACES_SAMPLER_ARG,
    maxQueueSize: s.OTEL_BSP_MAX_QUEUE_SIZE,
    // A batch never exceeds the queue it is taken from.
    maxExportBatchSize: Math.min(s.OTEL_BSP_MAX_EXPORT_BATCH_SIZE, s.OTEL_BSP_MAX_QUEUE_SIZE),
    scheduledDelayMs: s.OTEL_BSP_SCHEDULE_DELAY,
    exportTimeoutMs: s.OTEL_EXPORTER_OTLP_TIMEOUT,
  };
}

export function loadTracingSettings(env: Env = process.env): TracingSettings {
  return toTracingSettings(parseEnv(tracingSchema, env));
}

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

// Anything but the four levels logs at info, as it always has: a typo in LOG_LEVEL never stops a service.
const logSchema = z.object({ LOG_LEVEL: z.enum(LOG_LEVELS).catch('info') });

export function loadLogSettings(env: Env = process.env): { level: LogLevel } {
  return { level: parseEnv(logSchema, env).LOG_LEVEL };
}

function isLoopback(url: string): boolean {
  const host = new URL(url).hostname;
  return host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function isIpv4Cidr(cidr: string): boolean {
  const [network, prefix, ...rest] = cidr.split('/');
  return rest.length === 0 && isIPv4(network ?? '') && /^\d{1,2}$/.test(prefix ?? '') && Number(prefix) <= 32;
}
