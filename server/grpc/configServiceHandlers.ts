import { type handleUnaryCall, status as GrpcStatus } from '@grpc/grpc-js';
import type * as grpc from '@grpc/grpc-js';
import type { ConfigAddress } from '../../common/configAddress';
import type { ConfigVersion } from '../../activities/storage/types';
import type { ConfigEntry } from '../../gen/proto/configsvc/v1/ConfigEntry';
import type { ConfigServiceHandlers } from '../../gen/proto/configsvc/v1/ConfigService';
import type { Logger } from '../../common/logger';
import type { Action, Identity } from '../auth/identity';
import type { Authenticator } from '../auth/authenticator';
import { assertNoTenantNamed } from '../auth/tenantSmuggling';
import type { CachedConfigReader } from '../configReader';
import { NotFoundError } from '../../common/errors';
import { errorReply, grpcStatusOf } from '../../common/errorStatus';
import { EncodedAnswer, getConfigAnswerEncoder } from './grpcServer';
import type { InstanceGrantIssuer } from './instanceGrants';
import { backendLabel, type ServerMetrics } from '../metrics/serverMetrics';

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

/** What a handler answers: at once when memory held everything it needed, else later. */
type Answer<Res> = Res | EncodedAnswer | Promise<Res | EncodedAnswer>;

/** ConfigService over gRPC: the same reads as the REST API, tenant from the verified token only. */
export function createConfigServiceHandlers(deps: {
  readonly authenticator: Authenticator;
  readonly reader: CachedConfigReader;
  readonly grants: InstanceGrantIssuer;
  readonly logger: Logger;
  readonly metrics?: ServerMetrics;
}): ConfigServiceHandlers {
  const unary = <Req, Res>(action: Action, handle: (identity: Identity, request: Req) => Answer<Res>) =>
    observed(deps, authenticatedUnary(action, deps.authenticator, deps.logger, handle));
  const encode = getConfigAnswerEncoder();
  // Keyed by the reader's value object, which answers every read of its tenant's key until its cache
  // entry expires: the encoding is made from that object alone, and goes when it does.
  const encodedLive = new WeakMap<ConfigVersion, EncodedAnswer>();
  const liveAnswer = (version: ConfigVersion) => {
    let answer = encodedLive.get(version);
    if (!answer) {
      answer = new EncodedAnswer(encode({ entry: toConfigEntry(version) }));
      encodedLive.set(version, answer);
    }
    return answer;
  };
  const readLive = async (address: ConfigAddress, acceptPending: boolean) => {
    try {
      return liveAnswer(await deps.reader.getLive(address));
    } catch (error) {
      // A key whose first rollout runs is not absent: an instance holding its candidate keeps it.
      if (acceptPending && error instanceof NotFoundError && (await deps.reader.exists(address)))
        return { pending: true };
      throw error;
    }
  };
  return {
    GetConfig: unary('config:read', (identity, request) => {
      const address = {
        tenantId: identity.tenantId,
        key: request.key,
        service: request.service || undefined,
      };
      if (request.version)
        return deps.reader.getVersion(address, request.version).then((v) => ({ entry: toConfigEntry(v) }));
      const cached = deps.reader.cachedLive(address);
      return cached ? liveAnswer(cached) : readLive(address, Boolean(request.accept_pending));
    }),
    ListConfigs: unary('config:read', async (identity, request) => {
      const entries = await deps.reader.list(identity.tenantId, request.service || undefined);
      return { entries: entries.map(toConfigEntry) };
    }),
    IssueInstanceGrant: unary('instance:grant', (identity, request) => deps.grants.issue(identity, request)),
  };
}

/**
 * Counts each call by method, status and the backend its key routes to (GetConfig's; `none` for the
 * others), and times it. Wraps the callback only: a call answered from memory stays synchronous.
 */
function observed<Req, Res>(
  deps: { readonly reader: CachedConfigReader; readonly metrics?: ServerMetrics },
  handler: handleUnaryCall<Req, Res>,
): handleUnaryCall<Req, Res> {
  const { metrics } = deps;
  if (!metrics) return handler;
  // A handler serves one method: its name is read from the first call's path, then kept.
  let method: string | undefined;
  return (call, callback) => {
    const started = performance.now();
    handler(call, (error, value, ...rest) => {
      method ??= call.getPath().split('/').pop() ?? 'unknown';
      const code = GrpcStatus[error?.code ?? GrpcStatus.OK];
      const backend = backendLabel(deps.reader.backendOf((call.request as { key?: unknown }).key));
      metrics.read('grpc', method, code, backend, (performance.now() - started) / 1000);
      const limit = error?.metadata?.get('error-limit')[0];
      if (limit !== undefined) metrics.refused(String(limit), 'grpc');
      callback(error, value, ...rest);
    });
  };
}

/**
 * Authenticates, then answers. A read whose token and value are both in memory (the usual case for a
 * service instance) completes within this call, with no promise or microtask: on a cached GetConfig
 * those were a measurable share of the service's CPU (bench/README.md).
 */
function authenticatedUnary<Req, Res>(
  action: Action,
  authenticator: Authenticator,
  logger: Logger,
  handle: (identity: Identity, request: Req) => Answer<Res>,
): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    const fail = (error: unknown) => {
      const reply = errorReply(error);
      if (reply.code === 'Internal')
        logger.error('ConfigService internal error', { method: call.getPath(), error });
      callback(grpcStatusOf(reply));
    };
    // An EncodedAnswer goes to the wire as it is (grpcServer.ts's serializer), not as a Res.
    const answer = (value: Res | EncodedAnswer) => callback(null, value as Res);
    try {
      assertNoTenantNamed(Object.keys(call.metadata.getMap()), 'gRPC metadata');
      const header = call.metadata.get('authorization')[0];
      const known = authenticator.authenticateFromMemory(header, action);
      const result = known
        ? handle(known, call.request)
        : authenticator.authenticate(header, action).then((identity) => handle(identity, call.request));
      if (result instanceof Promise) result.then(answer, fail);
      else answer(result);
    } catch (error) {
      fail(error);
    }
  };
}
