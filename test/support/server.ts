import type { Client } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { destroyAwsClients } from '../../activities/awsClients';
import type { ConfigStore } from '../../activities/storage/configStore';
import { outOfBandPlanStoreFor, type OutOfBandPlanStore } from '../../activities/storage/outOfBandPlanStore';
import { freezeStoreFor, type FreezeStore } from '../../activities/storage/freezeStore';
import { createLogger } from '../../common/logger';
import {
  loadRolloutWorkerSettings,
  loadServerSettings,
  loadStorageSettings,
  loadTemporalSettings,
} from '../../common/settings';
import { temporalUiUrl } from '../../scripts/stack/index';
import { createTokenVerifier } from '../../server/auth/tokenVerifier';
import type { PayloadCodecEndpoint } from '../../server/http/codecRoutes';
import { payloadCodecFor, createTemporalClient } from '../../rolloutClient';
import { type PlatformServer, startPlatformServer } from '../../server/platformServer';
import { createRolloutWorker, type RolloutWorker } from '../../server/rolloutWorker';
import { RolloutService } from '../../server/rollouts/rolloutService';
import { localAuthSettings, stackClients, stackStore } from './env';
import type { ServerMetrics } from '../../server/metrics/serverMetrics';
import type { PushObserver } from '../../activities/refresh/pushObserver';

export interface TestServer extends PlatformServer {
  readonly store: ReturnType<typeof stackStore>;
  /** The out-of-band plans the REST API keeps, on the stack's schema table. */
  readonly plans: OutOfBandPlanStore;
  /** Freezes and change windows, on the stack's schema table. */
  readonly freezes: FreezeStore;
  readonly httpUrl: string;
  readonly grpcAddress: string;
  /** With `rollouts: true`: the Temporal client and the task queue its in-process worker serves. */
  readonly temporal?: Client;
  readonly taskQueue?: string;
}

/**
 * The real config service on free loopback ports, against the local stack and the local issuer. With
 * `rollouts`, its REST API has the rollout routes, backed by the stack's Temporal dev server and an
 * in-process rollout worker on a task queue of its own.
 */
/**
 * The config service's read cache, and what the worker waits out after a promotion: the same value for
 * both, as a deployment must have it; shorter than the default so rollouts end sooner.
 */
const READ_CACHE_TTL_MS = '1000';

export interface TestServerOptions {
  readonly rollouts?: boolean;
  /** With `rollouts`: run the in-process worker (the default); a test that stops workers runs its own. */
  readonly worker?: boolean;
  /** Config service settings (limits, cache bounds) over the test defaults, as environment variables. */
  readonly env?: Record<string, string>;
  /** Wraps the store the config service reads through (a counting decorator, say); the worker's is real. */
  readonly wrapStore?: (store: ConfigStore) => ConfigStore;
  /** The read cache's TTL, for the config service and its in-process worker alike (default 1 s). */
  readonly readCacheTtlMs?: number;
  /** Where the config service counts its work. */
  readonly metrics?: ServerMetrics;
  /** Told of the in-process worker's pushes (the worker's metrics). */
  readonly pushes?: PushObserver;
}

export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const clients = stackClients();
  const store = stackStore(clients);
  const logger = createLogger({ component: 'test' }, 'error');
  let temporal: Client | undefined;
  let worker: RolloutWorker | undefined;
  let rollouts: RolloutService | undefined;
  let payloadCodec: PayloadCodecEndpoint | undefined;
  const taskQueue = `rollouts-${randomUUID()}`;
  const freezes = freezeStoreFor(clients, loadStorageSettings());
  const readCacheTtlMs = String(options.readCacheTtlMs ?? READ_CACHE_TTL_MS);
  if (options.rollouts) {
    const temporalSettings = loadTemporalSettings({ ...process.env, TEMPORAL_TASK_QUEUE: taskQueue });
    const codec = payloadCodecFor(temporalSettings.payloadEncryption);
    temporal = await createTemporalClient(temporalSettings, { codec });
    payloadCodec = { codec, namespace: temporalSettings.namespace };
    if (options.worker !== false) {
      worker = await startTestWorker(taskQueue, clients, readCacheTtlMs, options.pushes);
    }
    rollouts = new RolloutService(temporal, store, taskQueue, freezes);
  }
  const plans = outOfBandPlanStoreFor(clients, loadStorageSettings());
  const server = await startPlatformServer({
    store: options.wrapStore ? options.wrapStore(store) : store,
    plans,
    verifier: createTokenVerifier(localAuthSettings()),
    logger,
    settings: loadServerSettings({
      ...process.env,
      BIND_ADDRESS: '127.0.0.1',
      GRPC_PORT: '0',
      HTTP_PORT: '0',
      CONFIG_CACHE_TTL_MS: readCacheTtlMs,
      CODEC_CORS_ORIGINS: temporalUiUrl(),
      ...options.env,
    }),
    rollouts,
    payloadCodec,
    temporal,
    serviceDiscovery: clients.serviceDiscovery,
    freezes,
    ...(options.metrics ? { metrics: options.metrics } : {}),
  });
  return {
    ...server,
    store,
    plans,
    freezes,
    httpUrl: `http://127.0.0.1:${server.httpPort}`,
    grpcAddress: `127.0.0.1:${server.grpcPort}`,
    ...(temporal ? { temporal, taskQueue } : {}),
    async stop() {
      await server.stop();
      await worker?.shutdown();
      await temporal?.connection.close();
      await store.close();
      destroyAwsClients(clients);
    },
  };
}

/** A rollout worker in this process, serving `taskQueue`, against the local stack. */
export async function startTestWorker(
  taskQueue: string,
  clients: ReturnType<typeof stackClients>,
  readCacheTtlMs = READ_CACHE_TTL_MS,
  pushes?: PushObserver,
): Promise<RolloutWorker> {
  const worker = await createRolloutWorker({
    clients,
    temporal: loadTemporalSettings({ ...process.env, TEMPORAL_TASK_QUEUE: taskQueue }),
    storage: loadStorageSettings(),
    rollout: loadRolloutWorkerSettings({ ...process.env, CONFIG_CACHE_TTL_MS: readCacheTtlMs }),
    logger: createLogger({ component: 'test-worker' }, 'error'),
    ...(pushes ? { pushes } : {}),
  });
  void worker.run();
  return worker;
}
