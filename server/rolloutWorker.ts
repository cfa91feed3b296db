import { NativeConnection, Worker } from '@temporalio/worker';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { AwsClients } from '../activities/awsClients';
import { CloudMapDiscovery } from '../activities/discovery/cloudMapDiscovery';
import { RefreshPusher } from '../activities/refresh/refreshPusher';
import { createRolloutActivities } from '../activities/rolloutActivities';
import { configStoreFor } from '../activities/storage/configStore';
import type { Logger } from '../common/logger';
import type { RolloutWorkerSettings, StorageSettings, TemporalSettings } from '../common/settings';
import { temporalConnectionOptions } from './temporalConnection';

export interface RolloutWorker {
  readonly worker: Worker;
  /** Resolves when the worker has stopped (after `shutdown`). */
  run(): Promise<void>;
  shutdown(): Promise<void>;
}

/** The Temporal worker for rollouts, wired to real clients: used by server/worker.ts and the tests. */
export async function createRolloutWorker(deps: {
  readonly clients: AwsClients;
  readonly temporal: TemporalSettings;
  readonly storage: StorageSettings;
  readonly rollout: RolloutWorkerSettings;
  readonly logger: Logger;
}): Promise<RolloutWorker> {
  const { clients, temporal, logger } = deps;
  const pusher = new RefreshPusher(readFileSync(deps.rollout.pushSigningKeyFile, 'utf8'), logger);
  const store = configStoreFor(clients, deps.storage);
  const activities = createRolloutActivities({
    store,
    discovery: new CloudMapDiscovery(clients.serviceDiscovery, deps.rollout.cloudMapNamespace, logger),
    pusher,
    logger,
    readCacheTtlMs: deps.rollout.readCacheTtlMs,
  });
  const connection = await NativeConnection.connect(temporalConnectionOptions(temporal));
  const worker = await Worker.create({
    connection,
    namespace: temporal.namespace,
    taskQueue: temporal.taskQueue,
    workflowsPath: path.join(__dirname, '..', 'workflows'),
    activities,
  });
  let running: Promise<void> | undefined;
  return {
    worker,
    run() {
      running ??= (async () => {
        try {
          await worker.run();
        } finally {
          pusher.close();
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
