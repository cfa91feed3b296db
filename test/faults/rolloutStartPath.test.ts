import { randomUUID } from 'node:crypto';
import { startRollout } from '../../rolloutClient';
import { stackClients, uniqueTenant } from '../support/env';
import { type FleetMember, requiredEnv, startInstance } from '../support/fleet';
import { isRunning, kill, spawnSource } from '../support/processes';
import { startTestServer, type TestServer } from '../support/server';
import { type FaultProxy, type ProxiedLink, startFaultProxy } from '../support/toxiproxy';
import { until } from '../support/until';
import { allAtOnce } from '../support/plans';

/**
 * A rollout prepares and writes its candidate as local activities (workflows/rolloutWorkflow.ts, patch
 * local-prepare-and-write): inside the workflow task of the worker running it, with no activity task of
 * their own. The worker SIGKILLed after the candidate's write reached DynamoDB but before its answer came
 * back (the worker's DynamoDB link delays every answer): the workflow task is lost with the worker, and
 * the worker that takes it over runs prepare and write again. The rollout finishes with the candidate
 * written once (the write finds its own write id) and every instance on it.
 */
const KEY = 'tenant_config_featureFlags';
const clients = stackClients();
const instances: FleetMember[] = [];
let server: TestServer;
let faults: FaultProxy;
let dynamodb: ProxiedLink;

beforeAll(async () => {
  server = await startTestServer({ rollouts: true });
  faults = await startFaultProxy();
  dynamodb = await faults.proxy('dynamodb', new URL(requiredEnv('AWS_ENDPOINT_URL_DYNAMODB')).host);
}, 120_000);

afterAll(async () => {
  await Promise.all(instances.map((instance) => instance.client.stop()));
  await faults?.stop();
  await server?.stop();
});

/** A worker of the test's own (no read-cache wait: nobody joins), its DynamoDB calls through `endpoint`. */
const spawnWorker = (queue: string, endpoint = requiredEnv('AWS_ENDPOINT_URL_DYNAMODB')) =>
  spawnSource('server/worker.ts', {
    TEMPORAL_TASK_QUEUE: queue,
    WORKER_HEALTH_PORT: '0',
    CONFIG_CACHE_TTL_MS: '0',
    AWS_ENDPOINT_URL_DYNAMODB: endpoint,
  });

test('a worker killed while its local write of the candidate awaits its answer: another finishes the rollout, written once', async () => {
  const tenantId = uniqueTenant('localwrite');
  const service = `localwrite-${randomUUID().slice(0, 6)}`;
  const address = { tenantId, key: KEY };
  await server.store.put(address, '{"v":1}', { expectedVersion: 0, makeLive: true });
  for (let i = 0; i < 2; i += 1) {
    instances.push(await startInstance({ server, clients, service, tenancy: tenantId, preload: [address] }));
  }
  const removeLatency = await dynamodb.add({
    type: 'latency',
    stream: 'downstream',
    name: 'late-answers',
    toxicity: 1,
    attributes: { latency: 1500, jitter: 0 },
  });
  const queue = `rollouts-${randomUUID()}`;
  let worker = spawnWorker(queue, `http://${dynamodb.listen}`);
  try {
    const handle = await startRollout(
      server.temporal!,
      {
        tenantId,
        key: KEY,
        change: { kind: 'set', value: '{"v":2}' },
        targetServices: [service],
        plan: allAtOnce(),
        actor: 'alice',
      },
      queue,
    );
    // The candidate is in the table; the worker has not had the answer yet (1.5 s late).
    await until(
      'the candidate written',
      async () => ((await server.store.latest(address))?.version === 2 ? true : undefined),
      60,
    );
    const killed = worker.pid!;
    await kill(worker);
    expect(isRunning(killed)).toBe(false);
    await removeLatency();

    worker = spawnWorker(queue);
    expect(await handle.result()).toMatchObject({
      state: 'SUCCEEDED',
      candidateVersion: 2,
      updatedInstances: 2,
    });
    // Nothing of the lost workflow task survived but its effect: the write, made once.
    const history = await handle.fetchHistory();
    expect(
      history.events?.some(
        (event) => event.workflowTaskTimedOutEventAttributes || event.workflowTaskFailedEventAttributes,
      ),
    ).toBe(true);
  } finally {
    await kill(worker);
  }
  for (const member of instances) expect((await member.client.get(tenantId, KEY))?.version).toBe(2);
  expect((await server.store.history(address)).map((entry) => entry.version)).toEqual([2, 1]);
  expect((await server.store.getLive(address)).version).toBe(2);
}, 120_000);
