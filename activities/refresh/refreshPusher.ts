import * as grpc from '@grpc/grpc-js';
import { instanceRef, type ServiceInstance } from '../../common/cloudMap';
import type { Logger } from '../../common/logger';
import { loadProto } from '../../common/proto';
import { signPushToken } from '../../common/pushToken';
import type { PushSettings } from '../../common/rollout';
import type { ProtoGrpcType } from '../../gen/proto/refresh';
import { tenantVisibleReason } from './instanceReason';
import type { CacheRefreshClient } from '../../gen/proto/configsvc/v1/CacheRefresh';
import type { RefreshRequest } from '../../gen/proto/configsvc/v1/RefreshRequest';

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
}

/** Codes after which trying again cannot help: the instance refused the push itself. */
const PERMANENT_CODES = new Set([
  grpc.status.UNAUTHENTICATED,
  grpc.status.PERMISSION_DENIED,
  grpc.status.INVALID_ARGUMENT,
  grpc.status.UNIMPLEMENTED,
]);
const BACKOFF_BASE_MS = 200;
const BACKOFF_MAX_MS = 2_000;
/** Push tokens live 60 s; a fresh one is signed well before that. */
const TOKEN_REUSE_MS = 30_000;

/**
 * Delivers refreshes to instances over gRPC: many at once (bounded), each with its own deadline and
 * retries with backoff, every call signed by the control plane. Reports per instance; never throws for
 * an instance's failure, so one unreachable instance cannot fail a whole wave.
 */
export class RefreshPusher {
  private readonly clients = new Map<string, CacheRefreshClient>();
  private readonly tokens = new Map<string, { token: string; signedAt: number }>();
  private readonly CacheRefresh: ProtoGrpcType['configsvc']['v1']['CacheRefresh'];

  constructor(
    private readonly signingKeyPem: string,
    private readonly logger: Logger,
  ) {
    this.CacheRefresh = loadProto<ProtoGrpcType>('refresh.proto').proto.configsvc.v1.CacheRefresh;
  }

  /** Pushes `payload` to every instance; `onProgress` is called as results come in (for heartbeats). */
  async push(
    instances: readonly ServiceInstance[],
    payload: RefreshPayload,
    settings: PushSettings,
    onProgress: (done: number) => void = () => {},
  ): Promise<FleetOutcome> {
    const request = toRefreshRequest(payload);
    return this.forEach(instances, settings.concurrency, onProgress, async (instance) => {
      const response = await this.withRetries(instance, settings, () =>
        this.call<RefreshRequest, { held_version: number }>(instance, 'Refresh', request, settings.timeoutMs),
      );
      // The instance answers what it holds: anything but the pushed version means it did not converge.
      return response.held_version === payload.version
        ? undefined
        : `holds version ${response.held_version}, not ${payload.version}`;
    });
  }

  /**
   * The health gate and convergence check in one call: an instance passes when it reports SERVING and
   * holds `expectedVersion` of the key.
   */
  async check(
    instances: readonly ServiceInstance[],
    key: { tenantId: string; key: string; service?: string },
    expectedVersion: number,
    settings: PushSettings,
    onProgress: (done: number) => void = () => {},
  ): Promise<FleetOutcome> {
    const request = { keys: [{ tenant_id: key.tenantId, key: key.key, service: key.service ?? '' }] };
    return this.forEach(instances, settings.concurrency, onProgress, async (instance) => {
      const response = await this.withRetries(instance, settings, () =>
        this.call<typeof request, { status: string; held_versions: number[] }>(
          instance,
          'Health',
          request,
          settings.timeoutMs,
        ),
      );
      if (response.status !== 'SERVING') return `reports ${response.status}`;
      const held = response.held_versions[0] ?? 0;
      return held === expectedVersion ? undefined : `holds version ${held}, not ${expectedVersion}`;
    });
  }

  close(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }

  /** Runs `attempt` for each instance with at most `concurrency` in flight; a string result is a failure. */
  private async forEach(
    instances: readonly ServiceInstance[],
    concurrency: number,
    onProgress: (done: number) => void,
    attempt: (instance: ServiceInstance) => Promise<string | undefined>,
  ): Promise<FleetOutcome> {
    const succeeded: string[] = [];
    const failed: InstanceFailure[] = [];
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < instances.length; i = next++) {
        const instance = instances[i]!;
        const reason = await attempt(instance).catch((error: unknown) => describe(error));
        if (reason === undefined) succeeded.push(instanceRef(instance));
        else failed.push({ instance: instanceRef(instance), reason: tenantVisibleReason(reason, instance) });
        onProgress(succeeded.length + failed.length);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, instances.length) }, worker));
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
        await delay(Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (attempt - 1)));
      }
    }
  }

  private call<Req, Res>(
    instance: ServiceInstance,
    method: 'Refresh' | 'Health',
    request: Req,
    timeoutMs: number,
  ) {
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${this.tokenFor(instance.service)}`);
    const client = this.clientFor(instance) as unknown as Record<
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
          error || response === undefined ? reject(error ?? new Error('empty response')) : resolve(response),
      );
    });
  }

  private clientFor(instance: ServiceInstance): CacheRefreshClient {
    const target = `${instance.address}:${instance.port}`;
    let client = this.clients.get(target);
    if (!client) {
      client = new this.CacheRefresh(target, grpc.credentials.createInsecure());
      this.clients.set(target, client);
    }
    return client;
  }

  private tokenFor(service: string): string {
    const cached = this.tokens.get(service);
    if (cached && Date.now() - cached.signedAt < TOKEN_REUSE_MS) return cached.token;
    const token = signPushToken(this.signingKeyPem, { service });
    this.tokens.set(service, { token, signedAt: Date.now() });
    return token;
  }
}

function toRefreshRequest(payload: RefreshPayload): RefreshRequest {
  return {
    tenant_id: payload.tenantId,
    key: payload.key,
    service: payload.service ?? '',
    version: payload.version,
    ...(payload.removed ? { removed: true } : { value: payload.value ?? '' }),
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
  return error instanceof Error ? error.message : String(error);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
