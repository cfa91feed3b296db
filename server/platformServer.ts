import type { ServiceDiscoveryClient } from '@aws-sdk/client-servicediscovery';
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ConfigStore } from '../activities/storage/configStore';
import type { OutOfBandPlanStore } from '../activities/storage/outOfBandPlanStore';
import type { FreezeStore } from '../activities/storage/freezeStore';
import { keyFromFile } from '../common/keyFiles';
import type { Logger } from '../common/logger';
import type { ServerSettings } from '../common/settings';
import type { Client } from '@temporalio/client';
import { Authenticator } from './auth/authenticator';
import type { TokenVerifier } from './auth/tokenVerifier';
import type { RolloutService } from './rollouts/rolloutService';
import { CachedConfigReader } from './configReader';
import { createConfigServiceHandlers } from './grpc/configServiceHandlers';
import { InstanceGrantIssuer } from './grpc/instanceGrants';
import { stopGrpcServer } from '../common/grpcServing';
import { startGrpcServer } from './grpc/grpcServer';
import { createHttpApp } from './http/app';
import type { PayloadCodecEndpoint } from './http/codecRoutes';
import { RequestLimits } from './limits/requestLimits';
import { StreamQuota } from './limits/streamQuota';
import { type ReadCacheReplica, startReadCacheReplica } from './readCache/replica';
import { RunningRolloutQuota } from './rollouts/runningRolloutQuota';
import { GateSignals } from './rollouts/gateSignals';
import type { ServerMetrics } from './metrics/serverMetrics';
import { observeReads } from './metrics/readMetrics';
import { countRolloutsByState } from './metrics/rolloutStates';

/**
 * How long a stop waits for requests under way (streams are told to reconnect at once) before it
 * closes what is left: inside a container platform's usual 30 s before SIGKILL.
 */
const STOP_GRACE_MS = 10_000;
const IDLE_SWEEP_MS = 100;

export interface PlatformServer {
  readonly grpcPort: number;
  readonly httpPort: number;
  readonly reader: CachedConfigReader;
  /** Where promotions reach this replica's read cache, when it registered for them. */
  readonly replica?: ReadCacheReplica;
  stop(): Promise<void>;
}

/** Starts the gRPC ConfigService and the REST API over one cached reader. */
export async function startPlatformServer(deps: {
  readonly store: ConfigStore;
  /** The plans out-of-band Parameter Store edits roll out with (REST /v1/rollout-plans). */
  readonly plans?: OutOfBandPlanStore;
  readonly verifier: TokenVerifier;
  readonly logger: Logger;
  readonly settings: ServerSettings;
  readonly rollouts?: RolloutService;
  readonly payloadCodec?: PayloadCodecEndpoint;
  /** The Temporal client rollouts run on: counts a tenant's running rollouts for its quota. */
  readonly temporal?: Client;
  /** Where the replica registers for promotion notices, when settings give the push verify key. */
  readonly serviceDiscovery?: ServiceDiscoveryClient;
  /** Freezes and change windows (REST /v1/freeze, /v1/platform/freeze, /v1/change-windows). */
  readonly freezes?: FreezeStore;
  /** Where the service counts its work; the caller serves its registry (never on the API's port). */
  readonly metrics?: ServerMetrics;
  /** A span per REST request and gRPC call (the process installed a tracer provider: common/tracing.ts). */
  readonly traced?: boolean;
}): Promise<PlatformServer> {
  const { settings, logger, metrics } = deps;
  // Keys are fetched before listening so no request waits for, or fails on, the first JWKS download.
  await deps.verifier.hydrate();
  const { limits } = settings;
  const authenticator = new Authenticator(deps.verifier, new RequestLimits(limits));
  const shuttingDown = new AbortController();
  const reader = new CachedConfigReader(deps.store, {
    ttlMs: settings.cacheTtlMs,
    maxEntries: settings.cacheMaxEntries,
    maxBytes: settings.cacheMaxBytes,
    negativeTtlMs: settings.cacheNegativeTtlMs,
    ...(metrics ? { observer: observeReads(metrics) } : {}),
  });
  if (metrics) {
    metrics.gauge({
      name: 'cfg_read_cache_bytes',
      help: 'What the read cache holds, keys and values counted (bounded by CONFIG_CACHE_MAX_BYTES)',
      collect: (gauge) => gauge.set(reader.bytes),
    });
    metrics.gauge({
      name: 'cfg_read_cache_entries',
      help: 'Entries the read cache holds (bounded by CONFIG_CACHE_MAX_ENTRIES)',
      collect: (gauge) => gauge.set(reader.size),
    });
    if (deps.temporal) countRolloutsByState(metrics, deps.temporal, logger);
  }

  const grantSigningKey = keyFromFile(
    settings.instanceGrantSigningKeyFile,
    'private',
    'INSTANCE_GRANT_SIGNING_KEY_FILE',
  );
  const grants = new InstanceGrantIssuer(grantSigningKey, settings.instanceGrantTtlSeconds);
  // Registered before any read is served, so no answer is cached where a promotion's notice cannot reach.
  const notices = settings.readCacheNotices;
  let replica: ReadCacheReplica | undefined;
  if (notices) {
    if (!deps.serviceDiscovery) throw new Error('read-cache notices need a Cloud Map client to register');
    replica = await startReadCacheReplica({
      reader,
      logger,
      serviceDiscovery: deps.serviceDiscovery,
      namespace: notices.namespace,
      pushVerifyKey: keyFromFile(notices.pushVerifyKeyFile, 'public', 'PUSH_VERIFY_KEY_FILE'),
      grantSigningKey,
      grantTtlSeconds: settings.instanceGrantTtlSeconds,
      bindAddress: settings.bindAddress,
      port: notices.port,
      advertiseAddress: notices.advertiseAddress,
    });
  }
  const grpc = await startGrpcServer(
    createConfigServiceHandlers({ authenticator, reader, grants, logger, metrics }),
    { host: settings.bindAddress, port: settings.grpcPort },
    deps.traced,
  );
  const http = await listen(
    createHttpApp({
      authenticator,
      reader,
      store: deps.store,
      plans: deps.plans,
      logger,
      rollouts: deps.rollouts,
      payloadCodec: deps.payloadCodec,
      codecCorsOrigins: settings.codecCorsOrigins,
      streams: new StreamQuota({
        perIdentity: limits.streamsPerIdentity,
        perTenant: limits.streamsPerTenant,
      }),
      runningRollouts: deps.temporal
        ? new RunningRolloutQuota(deps.temporal, limits.runningRolloutsPerTenant)
        : undefined,
      shuttingDown: shuttingDown.signal,
      freezes: deps.freezes,
      gateSignals: deps.temporal ? new GateSignals(deps.temporal, logger) : undefined,
      metrics,
      console: settings.console,
      traced: deps.traced,
    }),
    settings.bindAddress,
    settings.httpPort,
  );
  const httpPort = (http.address() as AddressInfo).port;
  logger.info('config service listening', {
    grpcPort: grpc.port,
    httpPort,
    bindAddress: settings.bindAddress,
  });

  return {
    grpcPort: grpc.port,
    httpPort,
    reader,
    ...(replica ? { replica } : {}),
    /**
     * Stops accepting, lets calls under way answer, tells open progress streams to reconnect, then
     * closes; gRPC calls still running after the grace are cut. Bounded by STOP_GRACE_MS.
     */
    async stop() {
      shuttingDown.abort();
      // First out of Cloud Map, caching nothing from then on: reads answered during the grace are fresh.
      await replica?.stop();
      await Promise.all([stopGrpcServer(grpc.server, STOP_GRACE_MS), closeHttp(http, STOP_GRACE_MS)]);
    },
  };
}

/** Closes the HTTP server once its requests have answered (idle keep-alive sockets closed), or at `graceMs`. */
function closeHttp(http: HttpServer, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    // A connection goes idle when its last response ends: close those as they appear.
    const sweep = setInterval(() => http.closeIdleConnections(), IDLE_SWEEP_MS);
    const force = setTimeout(() => http.closeAllConnections(), graceMs);
    http.close(() => {
      clearInterval(sweep);
      clearTimeout(force);
      resolve();
    });
    http.closeIdleConnections();
  });
}

function listen(app: ReturnType<typeof createHttpApp>, host: string, port: number): Promise<HttpServer> {
  return new Promise((resolve, reject) => {
    const server = app.listen(port, host);
    server.once('listening', () => resolve(server));
    server.once('error', (error) =>
      reject(new Error(`HTTP cannot listen on ${host}:${port}: ${error.message}`)),
    );
  });
}
