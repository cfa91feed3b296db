import { randomUUID } from 'node:crypto';
import { PutParameterCommand } from '@aws-sdk/client-ssm';
import { DEFAULT_OUT_OF_BAND_PLAN } from '../../common/outOfBandPlans';
import { progressQuery } from '../../workflows/definitions';
import type { rolloutWorkflow } from '../../workflows/rolloutWorkflow';
import { stackClients, uniqueTenant } from '../support/env';
import { type FleetMember, startInstance } from '../support/fleet';
import { ALL_AT_ONCE, type StandIn, startEventBridgeStandIn } from '../support/outOfBand';
import { recordedRequest } from '../support/recordedRequest';
import { callApi } from '../support/restApi';
import { startTestServer, type TestServer } from '../support/server';
import { validToken } from '../support/tokens';
import { until } from '../support/until';

/**
 * Per-key plans on the local out-of-band path: a release manager's plan set through the REST API, an
 * edit made directly in (moto's) Parameter Store, the local EventBridge stand-in handing the event to
 * the real Lambda handler, the rollout on the stack's Temporal to real SDK instances.
 */
const HOT = 'param_config_endpoint';
const PLAIN = 'param_config_timeout';
/** The stand-in's default, as OUT_OF_BAND_ROLLOUT_PLAN sets it: the Lambda's, without its 30 s bakes. */
const DEFAULT_PLAN = { ...DEFAULT_OUT_OF_BAND_PLAN, bakeSeconds: 0 };

let server: TestServer;
let standIn: StandIn;
const instances: FleetMember[] = [];
const clients = stackClients();
const tenantId = uniqueTenant('oobplan');
const service = `pricing-${randomUUID().slice(0, 6)}`;
const nameOf = (key: string) => `/config-service/${tenantId}/${service}/${key}`;
const manager = (tenant: string) => validToken({ tenantId: tenant, groups: ['release-managers'] });

beforeAll(async () => {
  server = await startTestServer({ rollouts: true });
  for (const key of [HOT, PLAIN]) {
    await server.store.put({ tenantId, key, service }, 'v1', { expectedVersion: 0, makeLive: true });
  }
  const preload = [HOT, PLAIN].map((key) => ({ tenantId, key, service }));
  for (const tenancy of [tenantId, tenantId, 'pool']) {
    instances.push(await startInstance({ server, clients, service, tenancy, preload }));
  }
  standIn = await startEventBridgeStandIn({
    tenantId,
    taskQueue: server.taskQueue!,
    env: { LOCAL_EVENTBRIDGE_POLL_MS: '200' },
  });
}, 120_000);

afterAll(async () => {
  standIn?.stop();
  await Promise.all(instances.map((instance) => instance.client.stop()));
  await server?.stop();
});

/** An edit by hand, then the stand-in's delivery of its event to the handler, and the rollout's end. */
async function editAndRollOut(key: string, value: string) {
  await clients.ssm.send(
    new PutParameterCommand({ Name: nameOf(key), Value: value, Type: 'String', Overwrite: true }),
  );
  const delivery = await until(`the delivery of ${key}`, async () =>
    standIn.deliveries().find((d) => d.parameter === nameOf(key)),
  ).catch((error: Error) => {
    throw new Error(`${error.message}; stand-in log:\n${standIn.log()}`);
  });
  expect(delivery.outcome).toBe('started');
  const handle = server.temporal!.workflow.getHandle<typeof rolloutWorkflow>(
    delivery.workflowId!,
    delivery.runId,
  );
  const result = await handle.result();
  const held = await Promise.all(
    instances.map(async (member) => (await member.client.get(tenantId, key, service))?.version),
  );
  return {
    delivery,
    result,
    held,
    waves: (await handle.query(progressQuery)).waves.length,
    recorded: await recordedRequest(server.temporal!, delivery.workflowId!, delivery.runId),
  };
}

test('an edit of a key with an all-at-once plan reaches every instance in one wave, and the rollout records that plan', async () => {
  const set = await callApi(server.httpUrl, 'PUT', `/v1/rollout-plans/${HOT}`, manager(tenantId), {
    plan: ALL_AT_ONCE,
  });
  expect(set.status).toBe(200);

  const { delivery, result, held, waves, recorded } = await editAndRollOut(HOT, 'https://v2.example');

  expect(delivery.plan).toBe(HOT);
  expect(result).toMatchObject({ state: 'SUCCEEDED', candidateVersion: 2, updatedInstances: 3 });
  expect(held).toEqual([2, 2, 2]);
  expect(waves).toBe(1);
  expect(recorded.plan).toEqual(ALL_AT_ONCE);
  expect(await server.store.getLive({ tenantId, key: HOT, service })).toMatchObject({ version: 2 });
});

test('a key without a plan of its tenant takes the default, whatever plans another tenant set for the same names', async () => {
  // Another tenant's plans for this very key and for every key: they must not reach this tenant's edit.
  const other = uniqueTenant('other');
  for (const selector of [PLAIN, 'param_config_*']) {
    const set = await callApi(server.httpUrl, 'PUT', `/v1/rollout-plans/${selector}`, manager(other), {
      plan: { ...ALL_AT_ONCE, bakeSeconds: 1 },
    });
    expect(set.status).toBe(200);
  }

  const { delivery, result, held, waves, recorded } = await editAndRollOut(PLAIN, '2500');

  expect(delivery.plan).toBe('default');
  expect(result).toMatchObject({ state: 'SUCCEEDED', candidateVersion: 2, updatedInstances: 3 });
  expect(held).toEqual([2, 2, 2]);
  // Waves 1, 50% and 100% of three instances.
  expect(waves).toBe(3);
  expect(recorded.plan).toEqual(DEFAULT_PLAN);
});
