import { type ChildProcess, spawn } from 'node:child_process';
import { Connection } from '@temporalio/client';
import { destroyAwsClients } from '../../activities/awsClients';
import { createLogger } from '../../common/logger';
import { loadRolloutWorkerSettings, loadStorageSettings, loadTemporalSettings } from '../../common/settings';
import { toolPath } from '../../scripts/stack/index';
import { createRolloutWorker, type RolloutWorker } from '../../server/rolloutWorker';
import { startWorkerHealth } from '../../server/workerHealth';
import { stackClients } from '../support/env';
import { closedPort } from '../support/ports';
import { until } from '../support/until';

/**
 * The worker's /healthz while its Temporal server dies and comes back. Tried by hand on main: it
 * answered 200 with Temporal down, so a container health check kept a worker that ran nothing. The
 * test runs a Temporal dev server of its own, so the stack's stays up for every other test.
 */
const clients = stackClients();
let temporal: ChildProcess | undefined;
let worker: RolloutWorker | undefined;
let health: Awaited<ReturnType<typeof startWorkerHealth>> | undefined;

afterAll(async () => {
  health?.close();
  await worker?.shutdown();
  temporal?.kill('SIGKILL');
  destroyAwsClients(clients);
});

function startTemporal(port: number): ChildProcess {
  return spawn(
    toolPath('temporal'),
    [
      'server',
      'start-dev',
      '--ip',
      '127.0.0.1',
      '--port',
      String(port),
      '--headless',
      '--log-level',
      'error',
    ],
    { stdio: 'ignore' },
  );
}

async function temporalAnswers(port: number): Promise<void> {
  await until('Temporal answering', async () => {
    const connection = await Connection.connect({ address: `127.0.0.1:${port}`, connectTimeout: 1000 });
    try {
      await connection.workflowService.describeNamespace({ namespace: 'default' });
      return true;
    } finally {
      await connection.close();
    }
  });
}

async function healthz(): Promise<{ status: number; body: { status: string; reason?: string } }> {
  const response = await fetch(`http://127.0.0.1:${health!.port}/healthz`);
  return { status: response.status, body: (await response.json()) as { status: string; reason?: string } };
}

test('/healthz is 503 naming Temporal while Temporal is down, and 200 again once it is back', async () => {
  const port = await closedPort();
  temporal = startTemporal(port);
  await temporalAnswers(port);
  worker = await createRolloutWorker({
    clients,
    temporal: loadTemporalSettings({ ...process.env, TEMPORAL_ADDRESS: `127.0.0.1:${port}` }),
    storage: loadStorageSettings(),
    rollout: loadRolloutWorkerSettings(),
    logger: createLogger({ component: 'test-worker' }, 'error'),
  });
  void worker.run();
  health = await startWorkerHealth(worker, { host: '127.0.0.1', port: 0 });
  await until('a healthy worker', async () => ((await healthz()).status === 200 ? true : undefined));

  temporal.kill('SIGKILL');
  const down = await until('an unhealthy worker', async () => {
    const answer = await healthz();
    return answer.status === 503 ? answer : undefined;
  });
  expect(down.body).toEqual({ status: 'unhealthy', reason: 'Temporal does not answer' });

  temporal = startTemporal(port);
  await temporalAnswers(port);
  const back = await until('a healthy worker again', async () => {
    const answer = await healthz();
    return answer.status === 200 ? answer : undefined;
  });
  expect(back.body).toEqual({ status: 'ok' });
}, 90_000);
