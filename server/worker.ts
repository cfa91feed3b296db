import { createAwsClients } from '../activities/awsClients';
import { createLogger } from '../common/logger';
import {
  loadAwsSettings,
  loadRolloutWorkerSettings,
  loadStorageSettings,
  loadTemporalSettings,
} from '../common/settings';
import { createRolloutWorker } from './rolloutWorker';
import { startWorkerHealth } from './workerHealth';

/** Entry point of the rollout worker: runs rollout workflows and their activities. */
async function main(): Promise<void> {
  const logger = createLogger({ component: 'rollout-worker' });
  const temporal = loadTemporalSettings();
  const rollout = loadRolloutWorkerSettings();
  const rolloutWorker = await createRolloutWorker({
    clients: createAwsClients(loadAwsSettings()),
    temporal,
    storage: loadStorageSettings(),
    rollout,
    logger,
  });
  const health = await startWorkerHealth(rolloutWorker, {
    host: rollout.bindAddress,
    port: rollout.healthPort,
  });
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      logger.info('shutting down: finishing running tasks', { signal });
      health.close();
      void rolloutWorker.shutdown();
    });
  }
  logger.info('rollout worker running', { address: temporal.address, taskQueue: temporal.taskQueue });
  // Resolves once a shutdown has drained the worker (rejects if it overran its bound).
  await rolloutWorker.run();
  logger.info('rollout worker stopped');
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
