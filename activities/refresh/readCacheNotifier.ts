import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import { context } from '@opentelemetry/api';
import type { KeyObject } from 'node:crypto';
import { CONFIG_SERVICE_REPLICAS, instanceRef, type ServiceInstance } from '../../common/cloudMap';
import type { Logger } from '../../common/logger';
import { CLIENT_CHANNEL_OPTIONS, loadProto } from '../../common/proto';
import { type LiveNotice, readCacheScope, signPushGrant } from '../../common/pushGrant';
import { PUSH_SESSION_METADATA, WorkerPushSessions } from '../../common/pushSession';
import type { ProtoGrpcType } from '../../gen/proto/readCache';
import type { InvalidateRequest } from '../../gen/proto/configsvc/v1/InvalidateRequest';
import type { ReadCacheClient } from '../../gen/proto/configsvc/v1/ReadCache';
import type { CloudMapDiscovery } from '../discovery/cloudMapDiscovery';
import type { InstanceFailure } from './refreshPusher';
import { injectTraceContext } from '../../common/grpcTraceContext';

/** Whether every read cache has the new state: then no read answers the old one any more. */
export interface NoticeOutcome {
  /** Replicas admitted and told; 0 means none was found, which proves nothing. */
  readonly replicas: number;
  readonly acknowledged: number;
  /** Registrations under the reserved service that were not admitted (no valid grant, address refused). */
  readonly refused: number;
  readonly failed: InstanceFailure[];
}

/** Each replica gets this long per attempt: it answers from memory, so a slow one is a stuck one. */
const NOTICE_TIMEOUT_MS = 1_000;
const NOTICE_ATTEMPTS = 2;
const RETRY_PAUSE_MS = 200;

/**
 * Tells every config service replica registered in Cloud Map (CONFIG_SERVICE_REPLICAS) that a key has a
 * new live state, over ReadCache (proto/readCache.proto), all at once. Each call carries the worker's
 * push session certificate and a grant MAC'd for that replica and exactly that notice, as pushes to
 * instances do (activities/refresh/refreshPusher.ts). Reports per replica; never throws for one.
 */
export class ReadCacheNotifier {
  private readonly clients = new Map<string, ReadCacheClient>();
  private readonly ReadCache: ProtoGrpcType['configsvc']['v1']['ReadCache'];
  private readonly sessions: WorkerPushSessions;

  constructor(
    signingKey: KeyObject,
    private readonly discovery: Pick<CloudMapDiscovery, 'registrationsOf'>,
    private readonly logger: Logger,
  ) {
    this.sessions = new WorkerPushSessions(signingKey);
    this.ReadCache = loadProto<ProtoGrpcType>('readCache.proto').proto.configsvc.v1.ReadCache;
  }

  async notify(notice: LiveNotice): Promise<NoticeOutcome> {
    const { admitted, refused } = await this.discovery.registrationsOf(CONFIG_SERVICE_REPLICAS);
    const failed: InstanceFailure[] = [];
    await Promise.all(
      admitted.map(async (replica) => {
        const reason = await this.tell(replica, notice);
        if (reason !== undefined) failed.push({ instance: instanceRef(replica), reason });
      }),
    );
    const outcome = {
      replicas: admitted.length,
      acknowledged: admitted.length - failed.length,
      refused,
      failed,
    };
    this.logger.info('read caches told of a new live state', {
      rolloutId: notice.rolloutId,
      tenantId: notice.tenantId,
      key: notice.key,
      version: notice.version,
      replicas: outcome.replicas,
      acknowledged: outcome.acknowledged,
      refused,
      failed: failed.slice(0, 10),
    });
    return outcome;
  }

  close(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }

  /** Undefined once the replica acknowledged; otherwise why not. */
  private async tell(replica: ServiceInstance, notice: LiveNotice): Promise<string | undefined> {
    const request: InvalidateRequest = {
      tenant_id: notice.tenantId,
      key: notice.key,
      service: notice.service ?? '',
      version: notice.version,
      removed: notice.removed,
      rollout_id: notice.rolloutId,
    };
    const scope = readCacheScope(notice);
    let reason = '';
    for (let attempt = 1; attempt <= NOTICE_ATTEMPTS; attempt += 1) {
      // A grant is single-use: each attempt signs its own.
      const session = this.sessions.current();
      const metadata = new grpc.Metadata();
      const grant = signPushGrant(
        session.keysFor(replica.sealingKey).macKey,
        {
          service: replica.service,
          instanceId: replica.instanceId,
          address: `${replica.address}:${replica.port}`,
        },
        scope,
      );
      metadata.set('authorization', `Bearer ${grant}`);
      metadata.set(PUSH_SESSION_METADATA, session.certificate);
      // The replica's span of the notice joins the rollout's trace.
      injectTraceContext(context.active(), metadata);
      const error = await new Promise<grpc.ServiceError | null>((resolve) =>
        this.clientFor(replica).Invalidate(
          request,
          metadata,
          { deadline: Date.now() + NOTICE_TIMEOUT_MS },
          (failure) => resolve(failure),
        ),
      );
      if (!error) return undefined;
      reason = `${grpc.status[error.code] ?? error.code}: ${error.details}`;
      if (error.code === grpc.status.UNAUTHENTICATED || error.code === grpc.status.INVALID_ARGUMENT) break;
      if (attempt < NOTICE_ATTEMPTS) await sleep(RETRY_PAUSE_MS);
    }
    return reason;
  }

  private clientFor(replica: ServiceInstance): ReadCacheClient {
    const target = `${replica.address}:${replica.port}`;
    let client = this.clients.get(target);
    if (!client) {
      client = new this.ReadCache(
        `ipv4:${target}`,
        grpc.credentials.createInsecure(),
        CLIENT_CHANNEL_OPTIONS,
      );
      this.clients.set(target, client);
    }
    return client;
  }
}
