import { createServer } from 'node:http';
import { createAwsClients } from '../activities/awsClients';
import { createLogger } from '../common/logger';
import {
  loadAwsSettings,
  loadRolloutWorkerSettings,
  loadStorageSettings,
  loadTemporalSettings,
} from '../common/settings';
import { createRolloutWorker } from './rolloutWorker';

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
  // For container health checks and the stack script: healthy while the worker polls.
  const health = createServer((request, response) => {
    const running = rolloutWorker.worker.getState() === 'RUNNING';
    response.writeHead(request.url === '/healthz' ? (running ? 200 : 503) : 404).end();
  }).listen(rollout.healthPort, rollout.bindAddress);
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      logger.info('shutting down: finishing running tasks', { signal });
      health.close();
      void rolloutWorker.shutdown();
    });
  }
  logger.info('rollout worker running', { address: temporal.address, taskQueue: temporal.taskQueue });
  await rolloutWorker.run();
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
