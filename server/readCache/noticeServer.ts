import type { ConfigAddress } from '../../common/configAddress';
import type { Logger } from '../../common/logger';
import { loadProto } from '../../common/proto';
import {
  type NonceGuard,
  type PushTarget,
  type ReadCacheScope,
  readCacheScope,
} from '../../common/pushGrant';
import type { InstancePushSessions } from '../../common/pushSession';
import type { ProtoGrpcType } from '../../gen/proto/readCache';
import type { InvalidateRequest__Output } from '../../gen/proto/configsvc/v1/InvalidateRequest';
import type { InvalidateResponse } from '../../gen/proto/configsvc/v1/InvalidateResponse';
import type { ReadCacheHandlers } from '../../gen/proto/configsvc/v1/ReadCache';
import { authenticatedUnary } from '../../sdk/refreshServer';
import { nonNegativeInteger, parseAddress } from '../../sdk/refreshRequest';
import type { CachedConfigReader } from '../configReader';
import { serveWithReflection, stopGrpcServer } from '../../common/grpcServing';

export interface ReadCacheNoticeDeps {
  readonly reader: Pick<CachedConfigReader, 'invalidate'>;
  /** The rollout worker's sessions this replica accepts: certified with the push signing key. */
  readonly pushSessions: InstancePushSessions;
  readonly nonces: NonceGuard;
  /** This replica as grants must name it: its registration's id and advertised `ip:port`. */
  readonly target: () => PushTarget;
  readonly logger: Logger;
}

/**
 * ReadCache as proto/readCache.proto specifies it. Authenticated as the instances' CacheRefresh is
 * (sdk/refreshServer.ts): nothing is parsed before the worker's session certificate and the grant's MAC,
 * audience and times hold, and the grant must name exactly this tenant, key and version. The work a
 * call may cause is one entry of one tenant's key dropped, whoever calls and however often.
 */
export function createReadCacheHandlers(deps: ReadCacheNoticeDeps): ReadCacheHandlers {
  return {
    Invalidate: authenticatedUnary(
      deps,
      (request: InvalidateRequest__Output) => parseNotice(request),
      ({ address, scope }): InvalidateResponse => {
        const dropped = deps.reader.invalidate(address);
        deps.logger.info('read cache told of a new live state', {
          tenantId: address.tenantId,
          key: address.key,
          service: address.service,
          version: scope.version,
          removed: scope.removed,
          rolloutId: scope.rolloutId,
          dropped,
        });
        return { dropped };
      },
      'ReadCache',
    ),
  };
}

function parseNotice(request: InvalidateRequest__Output): {
  readonly address: ConfigAddress;
  readonly scope: ReadCacheScope;
} {
  const address = parseAddress(request, '');
  return {
    address,
    scope: readCacheScope({
      ...address,
      version: nonNegativeInteger(request.version, 'version'),
      removed: request.removed,
      rolloutId: request.rollout_id,
    }),
  };
}

export interface ReadCacheServer {
  readonly port: number;
  stop(): Promise<void>;
}

/** Serves ReadCache (and reflection) on `host:port`; port 0 picks one. */
export async function startReadCacheServer(
  handlers: ReadCacheHandlers,
  address: { readonly host: string; readonly port: number },
): Promise<ReadCacheServer> {
  const { definition, proto } = loadProto<ProtoGrpcType>('readCache.proto');
  const { server, port } = await serveWithReflection(
    definition,
    proto.configsvc.v1.ReadCache.service,
    handlers,
    address,
    'ReadCache',
  );
  return { port, stop: () => stopGrpcServer(server) };
}
