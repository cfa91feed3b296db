import type * as grpc from '@grpc/grpc-js';
import type { ConfigVersion } from '../../activities/storage/types';
import type { ConfigEntry } from '../../gen/proto/configsvc/v1/ConfigEntry';
import type { ConfigServiceHandlers } from '../../gen/proto/configsvc/v1/ConfigService';
import type { Logger } from '../../common/logger';
import type { Action, Identity } from '../auth/identity';
import type { Authenticator } from '../auth/authenticator';
import { assertNoTenantNamed } from '../auth/tenantSmuggling';
import type { CachedConfigReader } from '../configReader';
import { NotFoundError } from '../../common/errors';
import { errorReply, grpcStatusOf } from '../errorStatus';
import type { InstanceGrantIssuer } from './instanceGrants';

export function toConfigEntry(version: ConfigVersion): ConfigEntry {
  return {
    key: version.key,
    service: version.service ?? '',
    version: version.version,
    value: version.value,
    format: version.format,
    updated_at: version.updatedAt,
    created_at: version.createdAt ?? '',
  };
}

/** ConfigService over gRPC: the same reads as the REST API, tenant from the verified token only. */
export function createConfigServiceHandlers(deps: {
  readonly authenticator: Authenticator;
  readonly reader: CachedConfigReader;
  readonly grants: InstanceGrantIssuer;
  readonly logger: Logger;
}): ConfigServiceHandlers {
  const unary = <Req, Res>(action: Action, handle: (identity: Identity, request: Req) => Promise<Res>) =>
    authenticatedUnary(action, deps.authenticator, deps.logger, handle);
  return {
    GetConfig: unary('config:read', async (identity, request) => {
      const address = {
        tenantId: identity.tenantId,
        key: request.key,
        service: request.service || undefined,
      };
      if (request.version)
        return { entry: toConfigEntry(await deps.reader.getVersion(address, request.version)) };
      try {
        return { entry: toConfigEntry(await deps.reader.getLive(address)) };
      } catch (error) {
        // A key whose first rollout runs is not absent: an instance holding its candidate keeps it.
        if (request.accept_pending && error instanceof NotFoundError && (await deps.reader.exists(address)))
          return { pending: true };
        throw error;
      }
    }),
    ListConfigs: unary('config:read', async (identity, request) => {
      const entries = await deps.reader.list(identity.tenantId, request.service || undefined);
      return { entries: entries.map(toConfigEntry) };
    }),
    IssueInstanceGrant: unary('instance:grant', (identity, request) =>
      Promise.resolve(deps.grants.issue(identity, request)),
    ),
  };
}

function authenticatedUnary<Req, Res>(
  action: Action,
  authenticator: Authenticator,
  logger: Logger,
  handle: (identity: Identity, request: Req) => Promise<Res>,
): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    void (async () => {
      try {
        assertNoTenantNamed(Object.keys(call.metadata.getMap()), 'gRPC metadata');
        const identity = await authenticator.authenticate(call.metadata.get('authorization')[0], action);
        callback(null, await handle(identity, call.request));
      } catch (error) {
        const reply = errorReply(error);
        if (reply.code === 'Internal')
          logger.error('ConfigService internal error', { method: call.getPath(), error });
        callback(grpcStatusOf(reply));
      }
    })();
  };
}
