import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import type { rolloutWorkflow } from '../../workflows/rolloutWorkflow';
import { toolPath } from '../../scripts/stack/index';
import { stackClients, uniqueTenant } from '../support/env';
import { type FleetMember, startInstance } from '../support/fleet';
import { startTestServer, type TestServer } from '../support/server';

/**
 * The local out-of-band path end to end: an edit made with the AWS CLI in (moto's) Parameter Store, the
 * local EventBridge stand-in publishing it through the deployed rule, the real Lambda handler getting
 * it twice, one staged rollout, every instance on the new version.
 */
const REPO = path.join(__dirname, '..', '..');
const KEY = 'param_config_dbHost';
const run = promisify(execFile);

let server: TestServer;
let standIn: ChildProcess;
let standInLog = '';
let standInOut = '';
const instances: FleetMember[] = [];
const clients = stackClients();
const tenantId = uniqueTenant('eb');
const service = `billing-${randomUUID().slice(0, 6)}`;
const address = { tenantId, key: KEY, service };
const parameterName = `/config-service/${tenantId}/${service}/${KEY}`;

interface Delivery {
  readonly parameter: string;
  readonly outcome: string;
  readonly workflowId?: string;
  readonly runId?: string;
}

beforeAll(async () => {
  server = await startTestServer({ rollouts: true });
  await server.store.put(address, 'db-v1.internal:5432', { expectedVersion: 0, makeLive: true });
  for (const tenancy of [tenantId, 'pool']) {
    instances.push(await startInstance({ server, clients, service, tenancy, preload: [address] }));
  }
  standIn = spawn(process.execPath, ['--require', 'tsx/cjs', 'scripts/local-eventbridge.ts'], {
    cwd: REPO,
    env: {
      ...process.env,
      TEMPORAL_TASK_QUEUE: server.taskQueue,
      LOCAL_EVENTBRIDGE_PORT: '0',
      LOCAL_EVENTBRIDGE_PATH: `/config-service/${tenantId}`,
      LOCAL_EVENTBRIDGE_RULE: `test-${randomUUID().slice(0, 8)}`,
      LOCAL_EVENTBRIDGE_DUPLICATES: 'true',
      LOCAL_EVENTBRIDGE_POLL_MS: '300',
      OUT_OF_BAND_ROLLOUT_PLAN: JSON.stringify({ bakeSeconds: 0 }),
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  standIn.stdout?.on('data', (chunk: Buffer) => {
    standInLog += chunk.toString();
    standInOut += chunk.toString();
  });
  standIn.stderr?.on('data', (chunk: Buffer) => (standInLog += chunk.toString()));
  await until(() => standInLog.includes('watching Parameter Store'), 'the stand-in to start');
}, 120_000);

afterAll(async () => {
  standIn?.kill('SIGTERM');
  await Promise.all(instances.map((instance) => instance.client.stop()));
  await server.stop();
});

async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 300; i += 1) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`timed out waiting for ${what}; stand-in log:\n${standInLog}`);
}

test('an AWS CLI edit, delivered twice, reaches every instance through exactly one rollout', async () => {
  await run(toolPath('aws'), [
    '--endpoint-url',
    process.env.AWS_ENDPOINT_URL_SSM!,
    'ssm',
    'put-parameter',
    '--name',
    parameterName,
    '--value',
    'db-v2.internal:5432',
    '--type',
    'String',
    '--overwrite',
  ]);

  const deliveries = () =>
    standInOut
      .split('\n')
      .slice(0, -1) // the last piece is a line still being written
      .filter((line) => line.includes('"message":"delivered"'))
      .map((line) => JSON.parse(line) as Delivery)
      .filter((delivery) => delivery.parameter === parameterName);
  await until(() => deliveries().length >= 2, 'both deliveries');
  const delivered = deliveries();
  expect(delivered.map((d) => d.outcome)).toEqual(['started', 'already-rolling-out']);

  // Instances hold the candidate before the rollout promotes it, so the end state is read once it is over.
  const { workflowId, runId } = delivered[0]!;
  const result = await server
    .temporal!.workflow.getHandle<typeof rolloutWorkflow>(workflowId!, runId)
    .result();
  expect(result).toMatchObject({ state: 'SUCCEEDED', candidateVersion: 2, updatedInstances: 2 });
  const held = await Promise.all(
    instances.map(async (member) => (await member.client.get(tenantId, KEY, service))?.version),
  );
  expect(held).toEqual([2, 2]);
  expect(await server.store.getLive(address)).toMatchObject({ version: 2, value: 'db-v2.internal:5432' });
});
