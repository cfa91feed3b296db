import type { Client } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { destroyAwsClients, type AwsClients } from '../../activities/awsClients';
import { createLogger } from '../../common/logger';
import type { RolloutPlan, RolloutRequest } from '../../common/rollout';
import { loadRolloutWorkerSettings, loadStorageSettings, loadTemporalSettings } from '../../common/settings';
import { startRollout, createTemporalClient } from '../../rolloutClient';
import { createRolloutWorker, type RolloutWorker } from '../../server/rolloutWorker';
import { approveUpdate, progressQuery } from '../../workflows/definitions';
import { stackClients, uniqueTenant } from '../support/env';
import { type FleetMember, registerDeadInstance, startInstance } from '../support/fleet';
import { isRunning, kill, spawnWorker } from '../support/processes';
import { waitForState } from '../support/rolloutState';
import { startTestServer, type TestServer } from '../support/server';

/**
 * Rollouts end to end on the real stack: the Temporal dev server, the worker with its real activities,
 * Parameter Store and DynamoDB on moto, Cloud Map on moto, and real SDK instances over gRPC.
 */
const KEY = 'tenant_config_featureFlags';

let server: TestServer;
let clients: AwsClients;
let temporal: Client;
let worker: RolloutWorker;
let taskQueue: string;
const instances: FleetMember[] = [];

beforeAll(async () => {
  server = await startTestServer();
  clients = stackClients();
  taskQueue = `rollouts-${randomUUID()}`;
  const settings = loadTemporalSettings({ ...process.env, TEMPORAL_TASK_QUEUE: taskQueue });
  temporal = await createTemporalClient(settings);
  worker = await createRolloutWorker({
    clients,
    temporal: settings,
    storage: loadStorageSettings(),
    rollout: loadRolloutWorkerSettings(),
    logger: createLogger({ component: 'test-worker' }, 'error'),
  });
  void worker.run();
}, 120_000);

afterAll(async () => {
  await Promise.all(instances.map((instance) => instance.client.stop()));
  await worker?.shutdown();
  await temporal?.connection.close();
  destroyAwsClients(clients);
  await server.stop();
});

const plan = (overrides: Partial<RolloutPlan> = {}): RolloutPlan => ({
  strategy: { kind: 'explicit', waves: [1, '50%', '100%'] },
  bakeSeconds: 0,
  approval: 'none',
  maxFailures: 0,
  push: { timeoutMs: 1000, attempts: 2, concurrency: 8 },
  ...overrides,
});

/** Two tenants' live value, and per test a fleet of two services: a silo per tenant and a pooled instance each. */
async function setUp() {
  const [acme, globex] = [uniqueTenant('acme'), uniqueTenant('globex')];
  const services = [`orders-${randomUUID().slice(0, 6)}`, `billing-${randomUUID().slice(0, 6)}`];
  for (const tenantId of [acme, globex]) {
    await server.store.put({ tenantId, key: KEY }, '{"beta":false}', { expectedVersion: 0, makeLive: true });
  }
  const preload = [
    { tenantId: acme, key: KEY },
    { tenantId: globex, key: KEY },
  ];
  const fleet: Record<string, FleetMember> = {};
  for (const service of services) {
    for (const tenancy of [acme, globex, 'pool']) {
      const member = await startInstance({
        server,
        clients,
        service,
        tenancy,
        preload: preload.filter((p) => tenancy === 'pool' || p.tenantId === tenancy),
      });
      instances.push(member);
      fleet[`${service}/${tenancy === 'pool' ? 'pool' : tenancy === acme ? 'acme' : 'globex'}`] = member;
    }
  }
  const request = (overrides: Partial<RolloutRequest> = {}): RolloutRequest => ({
    tenantId: acme,
    key: KEY,
    change: { kind: 'set', value: '{"beta":true}' },
    targetServices: services,
    plan: plan(),
    actor: 'release-manager@acme',
    ...overrides,
  });
  return { acme, globex, services, fleet, request };
}

async function heldVersion(member: FleetMember, tenantId: string): Promise<number | undefined> {
  return (await member.client.get(tenantId, KEY))?.version;
}

test('a staged rollout reaches every instance serving the tenant, and only those; then it is live', async () => {
  const { acme, globex, services, fleet, request } = await setUp();
  const handle = await startRollout(temporal, request(), taskQueue);
  const result = await handle.result();

  expect(result).toMatchObject({
    state: 'SUCCEEDED',
    candidateVersion: 2,
    liveVersion: 2,
    updatedInstances: 4,
  });
  for (const service of services) {
    expect(await heldVersion(fleet[`${service}/acme`]!, acme)).toBe(2);
    expect(await heldVersion(fleet[`${service}/pool`]!, acme)).toBe(2);
    // Another tenant's silo is not even targeted, and the pooled instances keep globex's own value.
    expect(await heldVersion(fleet[`${service}/globex`]!, globex)).toBe(1);
    expect(await heldVersion(fleet[`${service}/pool`]!, globex)).toBe(1);
  }
  expect(await server.store.getLive({ tenantId: acme, key: KEY })).toMatchObject({
    version: 2,
    value: '{"beta":true}',
  });
  expect(await server.store.getLive({ tenantId: globex, key: KEY })).toMatchObject({ version: 1 });
  expect((await server.store.history({ tenantId: acme, key: KEY })).map((h) => h.version)).toEqual([2, 1]);
});

test('an unreachable instance is retried, then counted failed; past the budget everything rolls back', async () => {
  const { acme, services, fleet, request } = await setUp();
  // Registered in Cloud Map, but nothing listens on its port: it is down for the whole rollout.
  const dead = await registerDeadInstance(clients, services[0]!, 'zz-dead');
  try {
    const handle = await startRollout(
      temporal,
      request({ plan: plan({ strategy: { kind: 'explicit', waves: ['100%'] } }) }),
      taskQueue,
    );
    const result = await handle.result();
    expect(result.state).toBe('ROLLED_BACK');
    expect(result.reason).toMatch(/over the plan's budget of 0/);
    const progress = await handle.query(progressQuery);
    expect(progress.failedInstances).toEqual([
      { instanceId: `${services[0]}/zz-dead`, reason: expect.stringMatching(/UNAVAILABLE/) as unknown },
    ]);
  } finally {
    await dead.deregister();
  }
  for (const member of Object.values(fleet).filter((m) =>
    m.tenancy !== 'pool' ? m.tenancy === acme : true,
  )) {
    expect(await heldVersion(member, acme)).toBe(1);
  }
  expect(await server.store.getLive({ tenantId: acme, key: KEY })).toMatchObject({ version: 1 });
});

test('an instance that joins while the rollout waits for approval ends on the new version', async () => {
  const { acme, services, request } = await setUp();
  const handle = await startRollout(
    temporal,
    request({ plan: plan({ approval: 'after-first-wave' }) }),
    taskQueue,
  );
  await waitForState(handle, 'AWAITING_APPROVAL');

  const newcomer = await startInstance({
    server,
    clients,
    service: services[1]!,
    tenancy: acme,
    preload: [{ tenantId: acme, key: KEY }],
  });
  instances.push(newcomer);
  // It started while version 2 was still a candidate, so it loaded the live version 1.
  expect(await heldVersion(newcomer, acme)).toBe(1);

  await handle.executeUpdate(approveUpdate, { args: [{ actor: 'approver@acme' }] });
  expect(await handle.result()).toMatchObject({ state: 'SUCCEEDED', updatedInstances: 5 });
  expect(await heldVersion(newcomer, acme)).toBe(2);
});

test('the worker killed during a wave and restarted finishes the rollout, writing the version once', async () => {
  const { acme, services, fleet, request } = await setUp();
  const isolatedQueue = `rollouts-${randomUUID()}`;
  let child = spawnWorker(isolatedQueue);
  try {
    const handle = await startRollout(temporal, request({ plan: plan({ bakeSeconds: 5 }) }), isolatedQueue);
    await waitForState(handle, 'BAKING');
    const killed = child.pid!;
    await kill(child);
    expect(isRunning(killed)).toBe(false);

    child = spawnWorker(isolatedQueue);
    expect(await handle.result()).toMatchObject({
      state: 'SUCCEEDED',
      candidateVersion: 2,
      updatedInstances: 4,
    });
  } finally {
    child.kill('SIGTERM');
  }
  for (const service of services) {
    expect(await heldVersion(fleet[`${service}/acme`]!, acme)).toBe(2);
    expect(await heldVersion(fleet[`${service}/pool`]!, acme)).toBe(2);
  }
  expect((await server.store.history({ tenantId: acme, key: KEY })).map((h) => h.version)).toEqual([2, 1]);
  // Two workers bundle the workflows from source and the dead one's tasks time out before moving on.
}, 180_000);
