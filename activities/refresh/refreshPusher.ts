import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import { type Attributes, context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { KeyObject } from 'node:crypto';
import type { OutcomeSample } from '../../common/canaryAnalysis';
import { instanceRef, type ServiceInstance } from '../../common/cloudMap';
import type { Logger } from '../../common/logger';
import { CLIENT_CHANNEL_OPTIONS, loadProto } from '../../common/proto';
import {
  keysHash,
  type PushScope,
  refreshScope,
  sealingContext,
  signPushGrant,
} from '../../common/pushGrant';
import { PUSH_SESSION_METADATA, type WorkerSessionView, WorkerPushSessions } from '../../common/pushSession';
import { sealValue } from '../../common/sealedValue';
import type { PushSettings } from '../../common/rollout';
import type { ProtoGrpcType } from '../../gen/proto/refresh';
import { ChannelPool, type ChannelPoolLimits } from './channelPool';
import { tenantVisibleReason } from './instanceReason';
import type { CacheRefreshClient } from '../../gen/proto/configsvc/v1/CacheRefresh';
import type { RefreshRequest } from '../../gen/proto/configsvc/v1/RefreshRequest';
import { errorMessage } from '../../common/errors';
import { pushErrorCode, type PushObserver } from './pushObserver';
import { injectTraceContext } from '../../common/grpcTraceContext';

/** One version of one key, as the workflow asks for it to be delivered. */
export interface RefreshPayload {
  readonly tenantId: string;
  readonly key: string;
  readonly service?: string;
  readonly version: number;
  /** Absent with `removed`. */
  readonly value?: string;
  readonly removed?: boolean;
  readonly format: string;
  readonly rolloutId: string;
  /** A rollback: replace this (newer) version with `version`. */
  readonly revertFrom?: number;
}

export interface InstanceFailure {
  readonly instance: string;
  readonly reason: string;
}

/** Per-instance results, by instance reference (`service/instanceId`). */
export interface FleetOutcome {
  readonly succeeded: string[];
  readonly failed: InstanceFailure[];
  /**
   * Pooled instances that already reported this tenant's key NOT_SERVING before this push: their later
   * health says nothing about this change (another tenant's change may be at fault), so the health gate
   * does not count it against this rollout.
   */
  readonly unhealthyBefore?: string[];
}

/**
 * TLS towards instances, where the deployment gives certificates: the CA instance certificates chain to,
 * the worker's own certificate for mutual TLS, and the suffix of the name an instance of `service` must
 * present (`<service><suffix>`), so one service's certificate cannot stand in for another's.
 */
export interface PushTls {
  readonly caPem: string;
  readonly certPem?: string;
  readonly keyPem?: string;
  readonly serverNameSuffix: string;
}

type RefreshAnswer = { held_version: number; applied: boolean; key_status_before?: string };
type HealthAnswer = {
  status: string;
  held_versions: number[];
  key_statuses?: string[];
  key_outcomes?: { version: number; requests: number; errors: number }[];
};

/** Codes after which trying again cannot help: the instance refused the push itself. */
const PERMANENT_CODES = new Set([
  grpc.status.UNAUTHENTICATED,
  grpc.status.PERMISSION_DENIED,
  grpc.status.INVALID_ARGUMENT,
  grpc.status.UNIMPLEMENTED,
]);
/** Spans of the calls to instances; a no-op unless the worker installed a tracer provider. */
const tracer = trace.getTracer('config-platform/refresh-pusher');
const BACKOFF_BASE_MS = 200;
const BACKOFF_MAX_MS = 2_000;
/**
 * Channels kept warm between rollouts: a rollout to a fleet this size finds every connection open, and
 * one unused for five minutes (rollouts are minutes apart at most while a release is under way) is closed.
 */
export const PUSH_CHANNEL_LIMITS: ChannelPoolLimits = { max: 4096, idleMs: 5 * 60_000 };

/**
 * Delivers refreshes to instances over gRPC: many at once (bounded), each with its own deadline and
 * retries with backoff. Every call carries the worker's push session certificate and a grant MAC'd for
 * that instance and exactly that call (common/pushSession.ts, common/pushGrant.ts), and every value is
 * sealed under the key the session shares with that instance alone (common/sealedValue.ts).
 * Reports per instance; never throws for an instance's failure, so one unreachable instance cannot fail
 * a whole wave.
 */
export class RefreshPusher {
  private readonly clients: ChannelPool<CacheRefreshClient>;
  private readonly CacheRefresh: ProtoGrpcType['configsvc']['v1']['CacheRefresh'];
  /** One set of credentials serves every channel. */
  private readonly credentials: grpc.ChannelCredentials;
  private readonly sessions: WorkerPushSessions;

  constructor(
    signingKey: KeyObject,
    private readonly logger: Logger,
    private readonly tls?: PushTls,
    channelLimits: ChannelPoolLimits = PUSH_CHANNEL_LIMITS,
    private readonly observer?: PushObserver,
  ) {
    this.clients = new ChannelPool(channelLimits);
    this.sessions = new WorkerPushSessions(signingKey);
    this.CacheRefresh = loadProto<ProtoGrpcType>('refresh.proto').proto.configsvc.v1.CacheRefresh;
    this.credentials = tls
      ? grpc.credentials.createSsl(
          Buffer.from(tls.caPem),
          tls.keyPem ? Buffer.from(tls.keyPem) : null,
          tls.certPem ? Buffer.from(tls.certPem) : null,
        )
      : grpc.credentials.createInsecure();
  }

  /**
   * Pushes `payload` to every instance; `onProgress` is called as results come in (for heartbeats). Once
   * `signal` aborts (the worker shutting down), no further instance is started and it throws the reason.
   */
  async push(
    instances: readonly ServiceInstance[],
    payload: RefreshPayload,
    settings: PushSettings,
    onProgress: (done: number) => void = () => {},
    signal?: AbortSignal,
  ): Promise<FleetOutcome> {
    const scope = refreshScope({ ...payload, value: payload.removed ? undefined : (payload.value ?? '') });
    const session = this.sessions.current();
    const context = sealingContext(payload);
    const unhealthyBefore: string[] = [];
    // A candidate's health gate needs to know what was already wrong on instances other tenants share.
    const baseline = payload.revertFrom === undefined && !payload.removed;
    const outcome = await this.forEach(
      instances,
      settings.concurrency,
      onProgress,
      signal,
      async (instance) => {
        const { sealKey } = session.keysFor(instance.sealingKey);
        const request = toRefreshRequest(payload, (value) => sealValue(sealKey, value, context));
        const started = performance.now();
        const elapsed = () => (performance.now() - started) / 1000;
        const response = await this.withRetries(instance, settings, () =>
          this.call<RefreshRequest, RefreshAnswer>(
            session,
            instance,
            'Refresh',
            request,
            scope,
            settings.timeoutMs,
            {
              'config.tenant_id': payload.tenantId,
              'config.key': payload.key,
              'config.version': payload.version,
              'config.rollout_id': payload.rolloutId,
            },
          ),
        ).catch((error: unknown) => {
          this.observer?.pushed(instance.service, pushErrorCode(error), elapsed());
          throw error;
        });
        const converged = response.held_version === payload.version;
        this.observer?.pushed(instance.service, converged ? 'OK' : 'NOT_CONVERGED', elapsed());
        // Only the call that applied the change saw the key as it was before it: a retry after a lost
        // answer sees the change itself, so it excuses nothing.
        if (
          baseline &&
          instance.tenancy === 'pool' &&
          response.applied &&
          response.key_status_before === 'NOT_SERVING'
        ) {
          unhealthyBefore.push(instanceRef(instance));
        }
        // The instance answers what it holds: anything but the pushed version means it did not converge.
        return converged ? undefined : `holds version ${response.held_version}, not ${payload.version}`;
      },
    );
    return unhealthyBefore.length > 0 ? { ...outcome, unhealthyBefore } : outcome;
  }

  /**
   * The health gate and convergence check in one call: an instance passes when it reports the key
   * SERVING and holds `expectedVersion` of it. An `excused` instance (unhealthy before this change
   * reached it) passes on the version alone.
   */
  async check(
    instances: readonly ServiceInstance[],
    key: { tenantId: string; key: string; service?: string },
    expectedVersion: number,
    settings: PushSettings,
    onProgress: (done: number) => void = () => {},
    excused: ReadonlySet<string> = new Set(),
    signal?: AbortSignal,
  ): Promise<FleetOutcome> {
    const ask = this.healthCall([key], settings);
    return this.forEach(instances, settings.concurrency, onProgress, signal, async (instance) => {
      const response = await ask(instance);
      const held = response.held_versions[0] ?? 0;
      if (held !== expectedVersion) return `holds version ${held}, not ${expectedVersion}`;
      const status = keyStatusOf(response);
      if (status === 'SERVING') return undefined;
      if (excused.has(instanceRef(instance))) {
        this.logger.info('an instance unhealthy before this change reached it is not counted against it', {
          instance: instanceRef(instance),
          tenantId: key.tenantId,
          key: key.key,
        });
        return undefined;
      }
      return `reports ${status}`;
    });
  }

  /**
   * What each instance holds of `keys` (in their order; 0: nothing), for the reconciler. An instance that
   * cannot be asked is a failure of its own; its held versions are simply unknown.
   */
  async heldVersions(
    instances: readonly ServiceInstance[],
    keys: readonly { tenantId: string; key: string; service?: string }[],
    settings: PushSettings,
    onProgress: (done: number) => void = () => {},
    signal?: AbortSignal,
  ): Promise<{ held: Map<string, number[]>; failed: InstanceFailure[] }> {
    const held = new Map<string, number[]>();
    const failed = await this.askHealth(instances, keys, settings, onProgress, signal, (instance, answer) =>
      held.set(
        instanceRef(instance),
        keys.map((_, index) => answer.held_versions[index] ?? 0),
      ),
    );
    return { held, failed };
  }

  /**
   * What each instance's application recorded for `key` (the SDK's `record`), as the instance answered
   * it: the version it holds and its counters for that version, unchecked (the canary analysis judges
   * them). An instance that answers no counters (an SDK from before them) gives no sample; one that
   * cannot be asked is a failure of its own.
   */
  async outcomes(
    instances: readonly ServiceInstance[],
    key: { tenantId: string; key: string; service?: string },
    settings: PushSettings,
    onProgress: (done: number) => void = () => {},
    signal?: AbortSignal,
  ): Promise<{ samples: OutcomeSample[]; failed: InstanceFailure[] }> {
    const samples: OutcomeSample[] = [];
    const failed = await this.askHealth(
      instances,
      [key],
      settings,
      onProgress,
      signal,
      (instance, answer) => {
        const counts = answer.key_outcomes?.[0];
        if (counts) samples.push({ instance: instanceRef(instance), ...counts });
      },
    );
    return { samples, failed };
  }

  /** Asks every instance Health about `keys` and hands each answer to `take`; answers who could not be asked. */
  private async askHealth(
    instances: readonly ServiceInstance[],
    keys: readonly { tenantId: string; key: string; service?: string }[],
    settings: PushSettings,
    onProgress: (done: number) => void,
    signal: AbortSignal | undefined,
    take: (instance: ServiceInstance, answer: HealthAnswer) => void,
  ): Promise<InstanceFailure[]> {
    const ask = this.healthCall(keys, settings);
    const { failed } = await this.forEach(
      instances,
      settings.concurrency,
      onProgress,
      signal,
      async (instance) => {
        take(instance, await ask(instance));
        return undefined;
      },
    );
    return failed;
  }

  /** A Health call about `keys`, with retries, for any instance: its grant names exactly these keys. */
  private healthCall(
    keys: readonly { tenantId: string; key: string; service?: string }[],
    settings: PushSettings,
  ): (instance: ServiceInstance) => Promise<HealthAnswer> {
    const request = {
      keys: keys.map((key) => ({ tenant_id: key.tenantId, key: key.key, service: key.service ?? '' })),
    };
    const scope: PushScope = { op: 'health', keysHash: keysHash(keys) };
    const session = this.sessions.current();
    return (instance) =>
      this.withRetries(instance, settings, () =>
        this.call<typeof request, HealthAnswer>(
          session,
          instance,
          'Health',
          request,
          scope,
          settings.timeoutMs,
        ),
      );
  }

  close(): void {
    this.clients.close();
  }

  /** Runs `attempt` for each instance with at most `concurrency` in flight; a string result is a failure. */
  private async forEach(
    instances: readonly ServiceInstance[],
    concurrency: number,
    onProgress: (done: number) => void,
    signal: AbortSignal | undefined,
    attempt: (instance: ServiceInstance) => Promise<string | undefined>,
  ): Promise<FleetOutcome> {
    const succeeded: string[] = [];
    const failed: InstanceFailure[] = [];
    let next = 0;
    const worker = async () => {
      // Calls under way finish (pushes are idempotent): the retried activity sends them again.
      for (let i = next++; i < instances.length && !signal?.aborted; i = next++) {
        const instance = instances[i]!;
        const reason = await attempt(instance).catch((error: unknown) => describe(error));
        if (reason === undefined) succeeded.push(instanceRef(instance));
        else failed.push({ instance: instanceRef(instance), reason: tenantVisibleReason(reason, instance) });
        onProgress(succeeded.length + failed.length);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, instances.length) }, worker));
    signal?.throwIfAborted();
    return { succeeded, failed };
  }

  private async withRetries<T>(
    instance: ServiceInstance,
    settings: PushSettings,
    call: () => Promise<T>,
  ): Promise<T> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await call();
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        if (attempt >= settings.attempts || (typeof code === 'number' && PERMANENT_CODES.has(code)))
          throw error;
        this.logger.debug('push attempt failed, retrying', {
          instance: instanceRef(instance),
          attempt,
          error,
        });
        await sleep(Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (attempt - 1)));
      }
    }
  }

  private call<Req, Res>(
    session: WorkerSessionView,
    instance: ServiceInstance,
    method: 'Refresh' | 'Health',
    request: Req,
    scope: PushScope,
    timeoutMs: number,
    attributes: Attributes = {},
  ): Promise<Res> {
    // Made per attempt: a grant is single-use, and a retry may follow a call that did arrive.
    const grant = signPushGrant(
      session.keysFor(instance.sealingKey).macKey,
      {
        service: instance.service,
        instanceId: instance.instanceId,
        address: `${instance.address}:${instance.port}`,
      },
      scope,
    );
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${grant}`);
    metadata.set(PUSH_SESSION_METADATA, session.certificate);
    return this.traced(instance, method, attributes, metadata, () =>
      this.send<Req, Res>(instance, method, request, metadata, timeoutMs),
    );
  }

  /**
   * A client span around one call to an instance (every attempt its own), its trace context sent in the
   * call's metadata: the instance's span of the refresh joins the rollout's trace as its child.
   */
  private traced<Res>(
    instance: ServiceInstance,
    method: 'Refresh' | 'Health',
    attributes: Attributes,
    metadata: grpc.Metadata,
    send: () => Promise<Res>,
  ): Promise<Res> {
    return tracer.startActiveSpan(
      `configsvc.v1.CacheRefresh/${method}`,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          'rpc.system': 'grpc',
          'rpc.service': 'configsvc.v1.CacheRefresh',
          'rpc.method': method,
          'server.address': instance.address,
          'server.port': instance.port,
          'config.service': instance.service,
          'config.instance_id': instance.instanceId,
          ...attributes,
        },
      },
      async (span) => {
        injectTraceContext(context.active(), metadata);
        try {
          const response = await send();
          span.setAttribute('rpc.grpc.status_code', grpc.status.OK);
          return response;
        } catch (error) {
          const code = (error as { code?: unknown }).code;
          if (typeof code === 'number') span.setAttribute('rpc.grpc.status_code', code);
          // The code's name only: an instance's refusal text is not the trace's business.
          span.setStatus({
            code: SpanStatusCode.ERROR,
            message: typeof code === 'number' ? (grpc.status[code] ?? String(code)) : 'no answer',
          });
          throw error;
        } finally {
          span.end();
        }
      },
    );
  }

  private send<Req, Res>(
    instance: ServiceInstance,
    method: 'Refresh' | 'Health',
    request: Req,
    metadata: grpc.Metadata,
    timeoutMs: number,
  ): Promise<Res> {
    return this.clients.use(
      channelKeyOf(instance),
      () => this.channelTo(instance),
      (channel) => {
        const client = channel as unknown as Record<
          string,
          (
            request: Req,
            metadata: grpc.Metadata,
            options: grpc.CallOptions,
            callback: (error: grpc.ServiceError | null, response?: Res) => void,
          ) => void
        >;
        return new Promise<Res>((resolve, reject) => {
          client[method]!.call(
            client,
            request,
            metadata,
            { deadline: Date.now() + timeoutMs },
            (error, response) =>
              error || response === undefined
                ? reject(error ?? new Error('empty response'))
                : resolve(response),
          );
        });
      },
    );
  }

  private channelTo(instance: ServiceInstance): CacheRefreshClient {
    const target = `${instance.address}:${instance.port}`;
    // Discovery admits IPv4 literals only (instanceAdmission.ts): the ipv4 scheme skips a DNS resolver
    // per channel.
    return new this.CacheRefresh(`ipv4:${target}`, this.credentials, {
      ...CLIENT_CHANNEL_OPTIONS,
      // Instances are dialled by address; the certificate must name the service instead.
      ...(this.tls
        ? { 'grpc.ssl_target_name_override': `${instance.service}${this.tls.serverNameSuffix}` }
        : {}),
    });
  }

  /** Channels open now (tests). */
  get openChannels(): number {
    return this.clients.size;
  }
}

/**
 * A channel per instance: keyed by service, instance id and address, so a channel is never used for
 * another address, and over TLS (where the certificate expected depends on the service) never for a
 * registration of another service at the same address. The channel's own credentials are the worker's,
 * the same for every instance; what is per session and per instance (the session certificate, the grant)
 * travels in each call's metadata, never in the channel.
 */
function channelKeyOf(instance: ServiceInstance): string {
  return `${instanceRef(instance)}@${instance.address}:${instance.port}`;
}

/** The key's own status where the instance reports one (pooled instances judge each tenant's key). */
function keyStatusOf(answer: HealthAnswer): string {
  return answer.key_statuses?.[0] ?? answer.status;
}

function toRefreshRequest(payload: RefreshPayload, seal: (value: string) => Buffer): RefreshRequest {
  return {
    tenant_id: payload.tenantId,
    key: payload.key,
    service: payload.service ?? '',
    version: payload.version,
    ...(payload.removed ? { removed: true } : { sealed_value: seal(payload.value ?? '') }),
    format: payload.format,
    rollout_id: payload.rolloutId,
    revert_from: payload.revertFrom ?? 0,
  };
}

function describe(error: unknown): string {
  if (error && typeof error === 'object' && 'code' in error && 'details' in error) {
    const { code, details } = error as { code: number; details: string };
    return `${grpc.status[code] ?? code}: ${details}`;
  }
  return errorMessage(error);
}
