import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import type { rolloutWorkflow } from '../../workflows/rolloutWorkflow';
import { toolPath } from '../../scripts/stack/index';
import { stackClients, uniqueTenant } from '../support/env';
import { type FleetMember, startInstance } from '../support/fleet';
import { type StandIn, startEventBridgeStandIn } from '../support/outOfBand';
import { startTestServer, type TestServer } from '../support/server';
import { until } from '../support/until';

/**
 * The local out-of-band path end to end: an edit made with the AWS CLI in (moto's) Parameter Store, the
 * local EventBridge stand-in publishing it through the deployed rule, the real Lambda handler getting
 * it twice, one staged rollout, every instance on the new version.
 */
const KEY = 'param_config_dbHost';
const run = promisify(execFile);

let server: TestServer;
let standIn: StandIn;
const instances: FleetMember[] = [];
const clients = stackClients();
const tenantId = uniqueTenant('eb');
const service = `billing-${randomUUID().slice(0, 6)}`;
const address = { tenantId, key: KEY, service };
const parameterName = `/config-service/${tenantId}/${service}/${KEY}`;

beforeAll(async () => {
  server = await startTestServer({ rollouts: true });
  await server.store.put(address, 'db-v1.internal:5432', { expectedVersion: 0, makeLive: true });
  for (const tenancy of [tenantId, 'pool']) {
    instances.push(await startInstance({ server, clients, service, tenancy, preload: [address] }));
  }
  standIn = await startEventBridgeStandIn({
    tenantId,
    taskQueue: server.taskQueue!,
    env: { LOCAL_EVENTBRIDGE_DUPLICATES: 'true' },
  });
}, 120_000);

afterAll(async () => {
  standIn?.stop();
  await Promise.all(instances.map((instance) => instance.client.stop()));
  await server.stop();
});

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

  const deliveries = () => standIn.deliveries().filter((delivery) => delivery.parameter === parameterName);
  await until('both deliveries', async () => (deliveries().length >= 2 ? true : undefined), 60).catch(
    (error: Error) => {
      throw new Error(`${error.message}; stand-in log:\n${standIn.log()}`);
    },
  );
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
