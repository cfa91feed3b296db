import { Context } from '@temporalio/activity';
import { NativeConnection, Worker } from '@temporalio/worker';
import path from 'node:path';
import { AlarmWatch } from '../activities/alarms/alarmWatch';
import type { AwsClients } from '../activities/awsClients';
import { CloudMapDiscovery } from '../activities/discovery/cloudMapDiscovery';
import { listServiceNames } from '../common/cloudMapSetup';
import { InstanceAdmission } from '../activities/discovery/instanceAdmission';
import { createReconcileActivities } from '../activities/reconcile/reconcileActivities';
import { RolloutRecords } from '../activities/reconcile/rolloutRecords';
import { ReadCacheNotifier } from '../activities/refresh/readCacheNotifier';
import { PUSH_CHANNEL_LIMITS, RefreshPusher } from '../activities/refresh/refreshPusher';
import { createRolloutActivities } from '../activities/rolloutActivities';
import { configStoreFor } from '../activities/storage/configStore';
import { freezeStoreFor } from '../activities/storage/freezeStore';
import type { Logger } from '../common/logger';
import { keyFromFile, pemFromFile } from '../common/keyFiles';
import type { RolloutWorkerSettings, StorageSettings, TemporalSettings } from '../common/settings';
import { payloadCodecFor, temporalConnectionOptions } from '../rolloutClient';
import { workerDataConverter } from './payloadEncryption/workerDataConverter';
import type { PushObserver } from '../activities/refresh/pushObserver';
import type { Tracing } from '../common/tracing';
import { workerTracing } from './tracing/workerTracing';

/** How long a health probe waits for Temporal before it counts as unreachable. */
const TEMPORAL_PROBE_DEADLINE_MS = 2000;
/**
 * On shutdown, how long activities under way may run on: a wave's pushes usually finish within it, and
 * are cancelled after it (stopping before the next instance; pushes are idempotent, another worker
 * retries the activity at once rather than after the heartbeat timeout).
 */
const SHUTDOWN_GRACE = '10 seconds';
/** The bound on the whole shutdown, inside a container platform's usual 30 s before SIGKILL. */
const SHUTDOWN_FORCE = '25 seconds';

export interface RolloutWorker {
  readonly worker: Worker;
  /** Whether Temporal answers now: a worker that cannot reach it runs nothing, whatever its state says. */
  temporalReachable(): Promise<boolean>;
  /** Resolves when the worker has stopped (after `shutdown`). */
  run(): Promise<void>;
  shutdown(): Promise<void>;
}

/** The Temporal worker for rollouts and the reconciler, wired to real clients: used by server/worker.ts and the tests. */
export async function createRolloutWorker(deps: {
  readonly clients: AwsClients;
  readonly temporal: TemporalSettings;
  readonly storage: StorageSettings;
  readonly rollout: RolloutWorkerSettings;
  readonly logger: Logger;
  /** Told of every push (the worker's metrics). */
  readonly pushes?: PushObserver;
  /** The process's tracing (common/tracing.ts); without it, or off, workflows and activities run untraced. */
  readonly tracing?: Tracing;
}): Promise<RolloutWorker> {
  const { clients, temporal, logger } = deps;
  const { rollout } = deps;
  const pusher = createPusher(rollout, logger, deps.pushes);
  const store = configStoreFor(clients, deps.storage);
  const discovery = createDiscovery(clients, rollout, logger);
  const readCaches = rollout.readCacheNotices
    ? new ReadCacheNotifier(
        keyFromFile(rollout.pushSigningKeyFile, 'private', 'PUSH_SIGNING_KEY_FILE'),
        discovery,
        logger,
      )
    : undefined;
  const activities = {
    ...createRolloutActivities({
      store,
      discovery,
      pusher,
      logger,
      readCacheTtlMs: rollout.readCacheTtlMs,
      ...(readCaches ? { readCaches } : {}),
      freezes: freezeStoreFor(clients, deps.storage),
      alarms: createAlarmWatch(clients, rollout, logger),
    }),
    ...createReconcileActivities({
      store,
      discovery,
      pusher,
      // Inside an activity, the worker's own connection to Temporal.
      records: new RolloutRecords(() => Context.current().client),
      logger,
      services: () => listServiceNames(clients.serviceDiscovery, rollout.cloudMapNamespace),
    }),
  };
  const connection = await NativeConnection.connect(temporalConnectionOptions(temporal));
  const worker = await Worker.create({
    connection,
    namespace: temporal.namespace,
    taskQueue: temporal.taskQueue,
    workflowsPath: path.join(__dirname, '..', 'workflows'),
    activities,
    dataConverter: workerDataConverter(payloadCodecFor(temporal.payloadEncryption)),
    maxConcurrentActivityTaskExecutions: rollout.maxConcurrentActivities,
    shutdownGraceTime: SHUTDOWN_GRACE,
    shutdownForceTime: SHUTDOWN_FORCE,
    ...(deps.tracing ? workerTracing(deps.tracing) : {}),
  });
  let running: Promise<void> | undefined;
  return {
    worker,
    temporalReachable: () =>
      connection
        .withDeadline(Date.now() + TEMPORAL_PROBE_DEADLINE_MS, () =>
          connection.workflowService.getSystemInfo({}),
        )
        .then(
          () => true,
          () => false,
        ),
    run() {
      running ??= (async () => {
        try {
          await worker.run();
        } finally {
          pusher.close();
          readCaches?.close();
          await store.close();
          await connection.close();
        }
      })();
      return running;
    },
    async shutdown() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
    },
  };
}

/** Discovery as the worker runs it: only registrations with a valid instance grant, within the policy. */
export function createDiscovery(
  clients: Pick<AwsClients, 'serviceDiscovery'>,
  settings: RolloutWorkerSettings,
  logger: Logger,
  /** DiscoverInstances' cap; tests lower it to reach the listing path with a handful of instances. */
  discoverLimit?: number,
): CloudMapDiscovery {
  return new CloudMapDiscovery({
    client: clients.serviceDiscovery,
    namespace: settings.cloudMapNamespace,
    logger,
    admission: new InstanceAdmission({
      grantVerifyKey: keyFromFile(
        settings.instanceGrantVerifyKeyFile,
        'public',
        'INSTANCE_GRANT_VERIFY_KEY_FILE',
      ),
      allowedCidrs: settings.allowedCidrs,
      allowedPorts: settings.allowedPorts,
    }),
    maxInstances: settings.maxInstancesPerRollout,
    ...(discoverLimit ? { discoverLimit } : {}),
  });
}

/** The alarm gate's reads of CloudWatch, at the settings' polling rate. */
export function createAlarmWatch(
  clients: Pick<AwsClients, 'cloudWatch'>,
  settings: RolloutWorkerSettings,
  logger: Logger,
): AlarmWatch {
  return new AlarmWatch({
    client: clients.cloudWatch,
    platformAlarms: settings.platformAlarms,
    pollIntervalMs: settings.alarmPollIntervalMs,
    logger,
  });
}

export function createPusher(
  settings: RolloutWorkerSettings,
  logger: Logger,
  observer?: PushObserver,
): RefreshPusher {
  const { pushTls } = settings;
  return new RefreshPusher(
    keyFromFile(settings.pushSigningKeyFile, 'private', 'PUSH_SIGNING_KEY_FILE'),
    logger,
    pushTls && {
      caPem: pemFromFile(pushTls.caFile, 'PUSH_TLS_CA_FILE'),
      ...(pushTls.certFile ? { certPem: pemFromFile(pushTls.certFile, 'PUSH_TLS_CERT_FILE') } : {}),
      ...(pushTls.keyFile ? { keyPem: pemFromFile(pushTls.keyFile, 'PUSH_TLS_KEY_FILE') } : {}),
      serverNameSuffix: pushTls.serverNameSuffix,
    },
    PUSH_CHANNEL_LIMITS,
    observer,
  );
}
