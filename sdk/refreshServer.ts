import type * as grpc from '@grpc/grpc-js';
import { UnauthenticatedError } from '../common/errors';
import type { Logger } from '../common/logger';
import { loadProto } from '../common/proto';
import { verifyPushToken } from '../common/pushToken';
import type { ProtoGrpcType } from '../gen/proto/refresh';
import type { CacheRefreshHandlers } from '../gen/proto/configsvc/v1/CacheRefresh';
import { errorReply, grpcStatusOf } from '../server/errorStatus';
import { serveWithReflection, stopGrpcServer } from '../server/grpc/grpcServer';
import type { HeldConfig } from './heldConfig';
import { parseHeldKeys, parseRefreshRequest } from './refreshRequest';
import { assertServesTenant, type InstanceTenancy } from './tenancy';

export type ServingStatus = 'SERVING' | 'NOT_SERVING';

export interface CacheRefreshDeps {
  readonly service: string;
  readonly tenancy: InstanceTenancy;
  /** The control plane's Ed25519 public key: only it can sign push tokens. */
  readonly pushVerifyKeyPem: string;
  readonly held: HeldConfig;
  readonly status: () => Promise<ServingStatus>;
  readonly instanceId: () => string;
  readonly logger: Logger;
}

/** CacheRefresh as proto/refresh.proto specifies it; every call must carry a push token for this service. */
export function createCacheRefreshHandlers(deps: CacheRefreshDeps): CacheRefreshHandlers {
  const { held, logger } = deps;
  return {
    Refresh: authenticatedUnary(deps, (request) => {
      const { address, delivery } = parseRefreshRequest(request);
      assertServesTenant(deps.tenancy, address.tenantId, deps.service, 'tenant_id');
      const outcome = held.applyPush(address, delivery);
      const fields = {
        tenantId: address.tenantId,
        key: address.key,
        service: address.service,
        version: delivery.version,
        revertFrom: delivery.revertFrom || undefined,
        removed: delivery.value === undefined,
        rolloutId: delivery.rolloutId,
        heldVersion: outcome.heldVersion,
      };
      if (outcome.applied) logger.info(delivery.revertFrom ? 'rollback applied' : 'push applied', fields);
      else logger.debug('push changed nothing: duplicate, outdated or not holding revert_from', fields);
      return { held_version: outcome.heldVersion, applied: outcome.applied };
    }),
    Health: authenticatedUnary(deps, async (request) => {
      const keys = parseHeldKeys(request);
      return {
        status: await deps.status(),
        instance_id: deps.instanceId(),
        held_versions: keys.map((address) => held.heldVersion(address)),
      };
    }),
  };
}

function authenticatedUnary<Req, Res>(
  deps: CacheRefreshDeps,
  handle: (request: Req) => Res | Promise<Res>,
): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    void (async () => {
      try {
        authenticate(call.metadata, deps);
        callback(null, await handle(call.request));
      } catch (error) {
        const reply = errorReply(error);
        const fields = { method: call.getPath(), code: reply.code, reason: reply.message };
        if (reply.code === 'Internal') deps.logger.error('CacheRefresh internal error', { ...fields, error });
        else deps.logger.warn('CacheRefresh call refused', fields);
        callback(grpcStatusOf(reply));
      }
    })();
  };
}

function authenticate(metadata: grpc.Metadata, deps: CacheRefreshDeps): void {
  const header = metadata.get('authorization')[0];
  const match = typeof header === 'string' ? /^Bearer (\S+)$/.exec(header) : null;
  if (!match?.[1]) {
    throw new UnauthenticatedError(
      'missing push token: expected "authorization: Bearer <token>"',
      'authorization',
    );
  }
  verifyPushToken(deps.pushVerifyKeyPem, match[1], deps.service);
}

export interface RefreshServer {
  readonly port: number;
  /** Lets calls in flight finish (up to a grace period), then closes. */
  stop(): Promise<void>;
}

/** Serves CacheRefresh (and reflection, so grpcurl can call an instance) on `host:port`; port 0 picks one. */
export async function startRefreshServer(
  handlers: CacheRefreshHandlers,
  address: { readonly host: string; readonly port: number },
): Promise<RefreshServer> {
  const { definition, proto } = loadProto<ProtoGrpcType>('refresh.proto');
  const { server, port } = await serveWithReflection(
    definition,
    proto.configsvc.v1.CacheRefresh.service,
    handlers,
    address,
    'CacheRefresh',
  );
  return { port, stop: () => stopGrpcServer(server) };
}
