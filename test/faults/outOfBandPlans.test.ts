import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PutParameterCommand } from '@aws-sdk/client-ssm';
import { WorkflowNotFoundError } from '@temporalio/client';
import { rolloutWorkflowId } from '../../common/rollout';
import { handler } from '../../lambdas/parameterStoreChange';
import type { rolloutWorkflow } from '../../workflows/rolloutWorkflow';
import type { ParameterStoreChange } from '../../lambdas/parameterStoreChangeEvent';
import { stackClients, uniqueTenant } from '../support/env';
import { type FleetMember, requiredEnv, startInstance } from '../support/fleet';
import { ALL_AT_ONCE, useHandlerEnvironment } from '../support/outOfBand';
import { recordedRequest } from '../support/recordedRequest';
import { startTestServer, type TestServer } from '../support/server';
import { type FaultProxy, type ProxiedLink, startFaultProxy } from '../support/toxiproxy';

/**
 * The plan store unreachable when an out-of-band edit arrives: the real Lambda handler, its DynamoDB
 * (where plans live) behind a Toxiproxy of this test's own, disabled. The handler must throw, so that
 * EventBridge retries, and start nothing: not with the default plan, which is not the one the release
 * manager chose. Once the store is back, the same event rolls out with the key's plan.
 */
const FIXTURES = path.join(__dirname, '..', '..', '..', 'shared', 'fixtures');
const KEY = 'param_config_endpoint';

let server: TestServer;
let faults: FaultProxy;
let plansLink: ProxiedLink;
const clients = stackClients();
const instances: FleetMember[] = [];
const tenantId = uniqueTenant('plandown');
const service = `quotes-${randomUUID().slice(0, 6)}`;
const address = { tenantId, key: KEY, service };
const name = `/config-service/${tenantId}/${service}/${KEY}`;
let restoreEnv: () => void = () => undefined;

beforeAll(async () => {
  server = await startTestServer({ rollouts: true });
  await server.store.put(address, 'https://v1.example', { expectedVersion: 0, makeLive: true });
  await server.plans.put(tenantId, { selector: KEY }, ALL_AT_ONCE, 'rm-alice');
  for (const tenancy of [tenantId, 'pool']) {
    instances.push(await startInstance({ server, clients, service, tenancy, preload: [address] }));
  }
  faults = await startFaultProxy();
  plansLink = await faults.proxy('lambda-dynamodb', new URL(requiredEnv('AWS_ENDPOINT_URL_DYNAMODB')).host);
  // The handler's DynamoDB, where plans live, behind the proxy.
  restoreEnv = useHandlerEnvironment(server.taskQueue!, {
    AWS_ENDPOINT_URL_DYNAMODB: `http://${plansLink.listen}`,
  });
}, 120_000);

afterAll(async () => {
  restoreEnv();
  await Promise.all(instances.map((instance) => instance.client.stop()));
  await faults?.stop();
  await server?.stop();
});

function updateEvent(): ParameterStoreChange {
  const event = JSON.parse(
    readFileSync(path.join(FIXTURES, 'ssm-change-update.json'), 'utf8'),
  ) as ParameterStoreChange;
  return { ...event, id: randomUUID(), detail: { ...event.detail, name } };
}

const held = () =>
  Promise.all(instances.map(async (member) => (await member.client.get(tenantId, KEY, service))?.version));

test('plan store down: the handler throws and starts nothing; once it is back the same event rolls out with the plan', async () => {
  await clients.ssm.send(
    new PutParameterCommand({ Name: name, Value: 'https://v2.example', Type: 'String', Overwrite: true }),
  );
  const event = updateEvent();

  await plansLink.setEnabled(false);
  try {
    // A Lambda sees BackendUnavailableError ("DynamoDB is unavailable: connect ECONNREFUSED …"); under
    // jest the socket error comes from another realm, so the AWS SDK wraps it and only its text is left.
    await expect(handler(event)).rejects.toThrow(/ECONNREFUSED/);
  } finally {
    await plansLink.setEnabled(true);
  }
  // Nothing started: no rollout of the key, every instance and the live version where they were.
  await expect(
    server.temporal!.workflow.getHandle(rolloutWorkflowId(address)).describe(),
  ).rejects.toBeInstanceOf(WorkflowNotFoundError);
  expect(await held()).toEqual([1, 1]);
  expect(await server.store.getLive(address)).toMatchObject({ version: 1 });

  // EventBridge's retry of the same event, with the store back.
  const outcome = await handler(event);
  expect(outcome).toMatchObject({ outcome: 'started', version: 2, plan: KEY });
  if (outcome.outcome !== 'started') throw new Error('not started');
  const result = await server
    .temporal!.workflow.getHandle<typeof rolloutWorkflow>(outcome.workflowId, outcome.runId)
    .result();
  expect(result).toMatchObject({ state: 'SUCCEEDED', candidateVersion: 2, updatedInstances: 2 });
  expect(await held()).toEqual([2, 2]);
  expect((await recordedRequest(server.temporal!, outcome.workflowId, outcome.runId)).plan).toEqual(
    ALL_AT_ONCE,
  );
  // Once: the one rollout of the key is the one this retry started.
  expect((await server.store.history(address)).map((entry) => entry.version)).toEqual([2, 1]);
});
