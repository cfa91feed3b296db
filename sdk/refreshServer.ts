import * as grpc from '@grpc/grpc-js';
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { UnauthenticatedError } from '../common/errors';
import type { Logger } from '../common/logger';
import { loadProto } from '../common/proto';
import { type NonceGuard, type PushScope, type PushTarget, verifyPushGrant } from '../common/pushGrant';
import { type InstancePushSessions, PUSH_SESSION_METADATA } from '../common/pushSession';
import { openSealedValue, type SessionKeys } from '../common/sealedValue';
import type { ProtoGrpcType } from '../gen/proto/refresh';
import type { ConfigAddress } from '../common/configAddress';
import type { CacheRefreshHandlers } from '../gen/proto/configsvc/v1/CacheRefresh';
import { errorReply, grpcStatusOf } from '../common/errorStatus';
import { serveWithReflection, stopGrpcServer } from '../common/grpcServing';
import { extractTraceContext } from '../common/grpcTraceContext';
import type { HeldConfig } from './heldConfig';
import type { OutcomeCounters } from './outcomeCounters';
import type { RefreshCallOutcome, SdkMetrics } from './metrics';
import { parseHeldKeys, parseRefreshRequest } from './refreshRequest';
import { assertServesTenant, type InstanceTenancy } from './tenancy';

export type ServingStatus = 'SERVING' | 'NOT_SERVING';

/**
 * The SDK records spans through the OpenTelemetry API alone: they go wherever the embedding service's
 * tracer provider sends them, and nowhere (at no cost) when it installed none.
 */
const tracer = trace.getTracer('config-platform/sdk');

export interface CacheRefreshDeps {
  readonly service: string;
  readonly tenancy: InstanceTenancy;
  /**
   * The worker sessions this instance accepts: certified by the control plane's Ed25519 key, agreed
   * with this instance's own sealing key.
   */
  readonly pushSessions: InstancePushSessions;
  /** Nonces of the push grants this instance has accepted, so none is accepted twice. */
  readonly nonces: NonceGuard;
  readonly held: HeldConfig;
  /** What the application recorded per tenant and key, answered on Health for the keys asked about. */
  readonly outcomes?: OutcomeCounters;
  readonly status: () => Promise<ServingStatus>;
  /**
   * How the instance serves one tenant's key: what a rollout's health gate reads. Without it, every key
   * reports the instance's overall `status`.
   */
  readonly keyStatus?: (address: ConfigAddress) => Promise<ServingStatus>;
  /** Who this instance is, as grants must name it: its id, and its advertised `ip:port` once registered. */
  readonly target: () => PushTarget;
  readonly logger: Logger;
  readonly metrics?: SdkMetrics;
}

/** CacheRefresh as proto/refresh.proto specifies it; every call must carry a push grant for exactly it. */
export function createCacheRefreshHandlers(deps: CacheRefreshDeps): CacheRefreshHandlers {
  const { held, logger } = deps;
  return {
    Refresh: authenticatedUnary(
      deps,
      (request, session) =>
        parseRefreshRequest(request, (sealed, context) => openSealedValue(session.sealKey, sealed, context)),
      async (parsed) => {
        const { address, delivery } = parsed;
        assertServesTenant(deps.tenancy, address.tenantId, deps.service, 'tenant_id');
        const statusBefore = deps.keyStatus ? await deps.keyStatus(address) : await deps.status();
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
        trace.getActiveSpan()?.setAttributes({
          'config.refresh.outcome': outcome.applied ? 'applied' : 'unchanged',
          'config.held_version': outcome.heldVersion,
        });
        if (outcome.applied) logger.info(delivery.revertFrom ? 'rollback applied' : 'push applied', fields);
        else logger.debug('push changed nothing: duplicate, outdated or not holding revert_from', fields);
        return {
          held_version: outcome.heldVersion,
          applied: outcome.applied,
          key_status_before: statusBefore,
        };
      },
    ),
    Health: authenticatedUnary(deps, parseHeldKeys, async ({ keys }) => {
      const status = await deps.status();
      const { keyStatus, outcomes } = deps;
      const heldVersions = keys.map((address) => held.heldVersion(address));
      return {
        status,
        instance_id: deps.target().instanceId,
        held_versions: heldVersions,
        ...(outcomes
          ? { key_outcomes: keys.map((address, i) => outcomes.countsFor(address, heldVersions[i] ?? 0)) }
          : {}),
        key_statuses: keyStatus
          ? await Promise.all(keys.map((address) => keyStatus(address)))
          : keys.map(() => status),
      };
    }),
  };
}

/** What checks a call from the rollout worker: its sessions, the grants' nonces, and who is called. */
export type PushCallAuthentication = Pick<
  CacheRefreshDeps,
  'pushSessions' | 'nonces' | 'target' | 'logger' | 'metrics'
>;

/**
 * A call is parsed only once its session certificate and its grant's MAC, audience and times hold; then
 * the grant must authorise exactly what was parsed, and only then is it handled. Also serves the config
 * service's ReadCache notices (server/readCache/noticeServer.ts), named `label` in logs.
 */
export function authenticatedUnary<Req, Parsed extends { readonly scope: PushScope }, Res>(
  deps: PushCallAuthentication,
  parse: (request: Req, session: SessionKeys) => Parsed,
  handle: (parsed: Parsed) => Res | Promise<Res>,
  label = 'CacheRefresh',
): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    const started = performance.now();
    const counted = (outcome: RefreshCallOutcome) =>
      deps.metrics?.refreshCall(
        call.getPath().split('/').pop() ?? 'unknown',
        outcome,
        (performance.now() - started) / 1000,
      );
    // The caller's trace context parents this call's span and nothing else: it is read before the grant is
    // checked, and a refused call's span says only that it was refused.
    const parent = extractTraceContext(context.active(), call.metadata);
    const span = tracer.startSpan(
      call.getPath().replace(/^\//, ''),
      {
        kind: SpanKind.SERVER,
        attributes: {
          'rpc.system': 'grpc',
          'rpc.method': call.getPath().split('/').at(-1) ?? '',
          'config.instance_id': deps.target().instanceId,
        },
      },
      parent,
    );
    void context.with(trace.setSpan(parent, span), async () => {
      try {
        const grant = bearerGrant(call.metadata);
        const session = deps.pushSessions.keysFor(sessionCertificate(call.metadata));
        const parsed = verifyPushGrant(
          session.macKey,
          grant,
          deps.target(),
          () => parse(call.request, session),
          deps.nonces,
        );
        const answer = await handle(parsed);
        counted(outcomeOf(answer));
        span.setAttribute('rpc.grpc.status_code', grpc.status.OK);
        callback(null, answer);
      } catch (error) {
        counted('refused');
        const reply = errorReply(error);
        const fields = { method: call.getPath(), code: reply.code, reason: reply.message };
        if (reply.code === 'Internal') deps.logger.error(`${label} internal error`, { ...fields, error });
        else deps.logger.warn(`${label} call refused`, fields);
        const status = grpcStatusOf(reply);
        span.setAttributes({ 'rpc.grpc.status_code': status.code, 'config.refresh.outcome': 'refused' });
        span.setStatus({ code: SpanStatusCode.ERROR, message: reply.code });
        callback(status);
      } finally {
        span.end();
      }
    });
  };
}

/** A Refresh answer says whether it applied; any other call was simply answered. */
function outcomeOf(answer: unknown): RefreshCallOutcome {
  const applied = (answer as { applied?: unknown }).applied;
  if (typeof applied !== 'boolean') return 'answered';
  return applied ? 'applied' : 'unchanged';
}

function bearerGrant(metadata: grpc.Metadata): string {
  const header = metadata.get('authorization')[0];
  const match = typeof header === 'string' ? /^Bearer (\S+)$/.exec(header) : null;
  if (!match?.[1]) {
    throw new UnauthenticatedError(
      'missing push grant: expected "authorization: Bearer <grant>"',
      'authorization',
    );
  }
  return match[1];
}

function sessionCertificate(metadata: grpc.Metadata): string {
  const certificate = metadata.get(PUSH_SESSION_METADATA)[0];
  if (typeof certificate !== 'string' || certificate.length === 0) {
    throw new UnauthenticatedError(
      `missing push session: expected "${PUSH_SESSION_METADATA}: <certificate>"`,
      PUSH_SESSION_METADATA,
    );
  }
  return certificate;
}

export interface RefreshServer {
  readonly port: number;
  /** Lets calls in flight finish (up to a grace period), then closes. */
  stop(): Promise<void>;
}

/**
 * TLS for CacheRefresh: the instance's certificate (its SAN names `<service><suffix>`, see the worker's
 * PUSH_TLS_SERVER_NAME_SUFFIX) and, for mutual TLS, the CA whose client certificates it accepts.
 */
export interface RefreshTls {
  readonly certPem: string;
  readonly keyPem: string;
  /** With it, only callers presenting a certificate from this CA connect at all. */
  readonly clientCaPem?: string;
}

/** Serves CacheRefresh (and reflection, so grpcurl can call an instance) on `host:port`; port 0 picks one. */
export async function startRefreshServer(
  handlers: CacheRefreshHandlers,
  address: { readonly host: string; readonly port: number },
  tls?: RefreshTls,
): Promise<RefreshServer> {
  const { definition, proto } = loadProto<ProtoGrpcType>('refresh.proto');
  const { server, port } = await serveWithReflection(
    definition,
    proto.configsvc.v1.CacheRefresh.service,
    handlers,
    address,
    'CacheRefresh',
    tls
      ? grpc.ServerCredentials.createSsl(
          tls.clientCaPem ? Buffer.from(tls.clientCaPem) : null,
          [{ cert_chain: Buffer.from(tls.certPem), private_key: Buffer.from(tls.keyPem) }],
          tls.clientCaPem !== undefined,
        )
      : undefined,
  );
  return { port, stop: () => stopGrpcServer(server) };
}
