import { createAwsClients } from '../activities/awsClients';
import { createLogger, type Logger } from '../common/logger';
import {
  loadAwsSettings,
  loadMetricsSettings,
  loadRolloutWorkerSettings,
  loadStorageSettings,
  loadTemporalSettings,
  type TemporalSettings,
} from '../common/settings';
import { ensureReconcileSchedule } from './reconcileSchedule';
import { createRolloutWorker } from './rolloutWorker';
import { createTemporalClient } from '../rolloutClient';
import { startWorkerHealth } from './workerHealth';
import { errorMessage } from '../common/errors';
import { WorkerMetrics } from './metrics/workerMetrics';
import { installRuntimeMetrics } from './metrics/runtimeMetrics';
import { startTracing } from '../common/tracing';

/** Entry point of the rollout worker: runs rollout workflows and their activities. */
async function main(): Promise<void> {
  const logger = createLogger({ component: 'rollout-worker' });
  const temporal = loadTemporalSettings();
  const rollout = loadRolloutWorkerSettings();
  // Before any connection: the Runtime is made with the first one, and its telemetry is fixed then.
  installRuntimeMetrics(loadMetricsSettings());
  const metrics = new WorkerMetrics();
  const tracing = startTracing('rollout-worker', logger);
  const rolloutWorker = await createRolloutWorker({
    clients: createAwsClients(loadAwsSettings()),
    temporal,
    storage: loadStorageSettings(),
    rollout,
    logger,
    pushes: metrics,
    tracing,
  });
  await setReconcileSchedule(temporal, rollout.reconcileIntervalSeconds, logger);
  const health = await startWorkerHealth(
    rolloutWorker,
    { host: rollout.bindAddress, port: rollout.healthPort },
    metrics.registry,
  );
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
  // The spans of the last tasks the worker ran are still queued.
  await tracing.shutdown();
  logger.info('rollout worker stopped');
}

/** Rollouts do not depend on the schedule: a worker that cannot set it says so and runs anyway. */
async function setReconcileSchedule(
  temporal: TemporalSettings,
  intervalSeconds: number,
  logger: Logger,
): Promise<void> {
  try {
    const client = await createTemporalClient(temporal);
    try {
      await ensureReconcileSchedule(client, { taskQueue: temporal.taskQueue, intervalSeconds });
    } finally {
      await client.connection.close();
    }
    logger.info('reconciler schedule set', { intervalSeconds });
  } catch (error) {
    logger.error('could not set the reconciler schedule; rollouts run, drift is not repaired', { error });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(errorMessage(error));
    process.exit(1);
  },
);
