import { setTimeout as sleep } from 'node:timers/promises';
import {
  DeregisterInstanceCommand,
  DiscoverInstancesCommand,
  InstanceNotFound,
  RegisterInstanceCommand,
} from '@aws-sdk/client-servicediscovery';
import { type Client, ScheduleNotFoundError } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { destroyAwsClients } from '../../activities/awsClients';
import { ensureService, listServiceNames } from '../../common/cloudMapSetup';
import { createReconcileActivities } from '../../activities/reconcile/reconcileActivities';
import { RolloutRecords } from '../../activities/reconcile/rolloutRecords';
import { INSTANCE_ATTRIBUTES } from '../../common/cloudMap';
import { verifyInstanceGrant } from '../../common/instanceGrant';
import { keyFromFile } from '../../common/keyFiles';
import {
  RECONCILE_FLEET_WORKFLOW_TYPE,
  RECONCILE_WORKFLOW_TYPE,
  type ReconcileResult,
  type ReconcileScope,
  reconcileWorkflowId,
} from '../../common/reconcile';
import type { RolloutPlan, RolloutRequest } from '../../common/rollout';
import { loadRolloutWorkerSettings } from '../../common/settings';
import { ensureReconcileSchedule } from '../../server/reconcileSchedule';
import { startRollout } from '../../rolloutClient';
import { createDiscovery, createPusher } from '../../server/rolloutWorker';
import { createLogger } from '../../common/logger';
import { TENANT_ID } from '../../common/searchAttributes';
import { progressQuery } from '../../workflows/definitions';
import type { reconcileFleetWorkflow, reconcileWorkflow } from '../../workflows/reconcileWorkflow';
import { stackClients, uniqueTenant } from '../support/env';
import { type FleetMember, startInstance } from '../support/fleet';
import { startTestServer, type TestServer } from '../support/server';

/**
 * Lost pushes converge: an instance that missed a removal, instances left holding the candidate of a
 * rollout whose workflow vanished, and an instance whose Cloud Map registration was deleted. The
 * reconciler is started directly here, as the schedule starts it, rather than waited for.
 */
const KEY = 'tenant_config_featureFlags';
const clients = stackClients();
const namespace = loadRolloutWorkerSettings().cloudMapNamespace;
let server: TestServer;
let temporal: Client;
let taskQueue: string;
const members: FleetMember[] = [];

beforeAll(async () => {
  server = await startTestServer({ rollouts: true });
  temporal = server.temporal!;
  taskQueue = server.taskQueue!;
}, 120_000);

afterAll(async () => {
  await Promise.all(members.map((member) => member.client.stop()));
  await server.stop();
  destroyAwsClients(clients);
});

const plan = (overrides: Partial<RolloutPlan> = {}): RolloutPlan => ({
  strategy: { kind: 'explicit', waves: ['100%'] },
  bakeSeconds: 0,
  approval: 'none',
  maxFailures: 0,
  push: { timeoutMs: 1000, attempts: 2, concurrency: 8 },
  ...overrides,
});

/** A tenant with KEY live at version 1, and `count` silo instances of a service of its own holding it. */
async function fleetOf(count: number, options: { registrationCheckIntervalMs?: number } = {}) {
  const tenantId = uniqueTenant('rec');
  const service = `rec-${randomUUID().slice(0, 6)}`;
  await server.store.put({ tenantId, key: KEY }, '{"v":1}', { expectedVersion: 0, makeLive: true });
  const fleet: FleetMember[] = [];
  for (let index = 0; index < count; index += 1) {
    const member = await startInstance({
      server,
      clients,
      service,
      tenancy: tenantId,
      preload: [{ tenantId, key: KEY }],
      ...options,
    });
    members.push(member);
    fleet.push(member);
  }
  const request = (overrides: Partial<RolloutRequest>): RolloutRequest => ({
    tenantId,
    key: KEY,
    change: { kind: 'set', value: '{"v":2}' },
    targetServices: [service],
    plan: plan(),
    actor: 'release-manager@rec',
    ...overrides,
  });
  return { tenantId, service, fleet, request };
}

async function held(member: FleetMember, tenantId: string): Promise<number | undefined> {
  return (await member.client.get(tenantId, KEY))?.version;
}

/** The reconciler's activities as the worker builds them, called directly: no activity context needed. */
function targets() {
  const logger = createLogger({ component: 'test' }, 'error');
  const settings = loadRolloutWorkerSettings();
  return createReconcileActivities({
    store: server.store,
    discovery: createDiscovery(clients, settings, logger),
    pusher: createPusher(settings, logger),
    records: new RolloutRecords(() => temporal),
    logger,
    services: () => listServiceNames(clients.serviceDiscovery, namespace),
  });
}

function reconcile(scope: ReconcileScope): Promise<ReconcileResult> {
  return temporal.workflow.execute<typeof reconcileWorkflow>(RECONCILE_WORKFLOW_TYPE, {
    taskQueue,
    workflowId: reconcileWorkflowId(scope),
    args: [scope],
  });
}

/** The instance's registrations as Cloud Map answers them (moto may keep two of one id). */
async function registrations(service: string, instanceId: string) {
  const { Instances } = await clients.serviceDiscovery.send(
    new DiscoverInstancesCommand({ NamespaceName: namespace, ServiceName: service }),
  );
  return (Instances ?? []).filter((instance) => instance.InstanceId === instanceId);
}

/** Deletes every registration of the instance, as a Cloud Map that lost it would have none. */
async function deregister(service: string, instanceId: string): Promise<void> {
  const serviceId = await ensureService(clients.serviceDiscovery, namespace, service);
  for (let attempt = 0; attempt < 8; attempt += 1) {
    try {
      await clients.serviceDiscovery.send(
        new DeregisterInstanceCommand({ ServiceId: serviceId, InstanceId: instanceId }),
      );
    } catch (error) {
      if (error instanceof InstanceNotFound) return;
      throw error;
    }
  }
}

test('an instance that missed a removal (out of Cloud Map while it ran, then back) forgets the key', async () => {
  const { tenantId, service, fleet, request } = await fleetOf(2);
  const [reached, missed] = fleet as [FleetMember, FleetMember];
  const [registration] = await registrations(service, missed.client.instanceId);
  await deregister(service, missed.client.instanceId);

  const removal = await startRollout(temporal, request({ change: { kind: 'remove' } }), taskQueue);
  expect(await removal.result()).toMatchObject({ state: 'SUCCEEDED', updatedInstances: 1 });
  expect(await held(reached, tenantId)).toBeUndefined();
  expect(await held(missed, tenantId)).toBe(1);

  // The fleet pass finds the tenant though the store keeps no key of it any more: it rolled out lately.
  expect(await server.store.tenants()).not.toContain(tenantId);
  expect((await targets().reconcileTargets()).tenants).toContain(tenantId);

  const serviceId = await ensureService(clients.serviceDiscovery, namespace, service);
  await clients.serviceDiscovery.send(
    new RegisterInstanceCommand({
      ServiceId: serviceId,
      InstanceId: missed.client.instanceId,
      Attributes: registration!.Attributes!,
    }),
  );
  const result = await reconcile({ tenantId, service });

  expect(result.repairs).toEqual([
    expect.objectContaining({
      instance: `${service}/${missed.client.instanceId}`,
      kind: 'removed-key',
      heldVersion: 1,
      sentVersion: 0,
      succeeded: true,
    }),
  ]);
  expect(await held(missed, tenantId)).toBeUndefined();
  expect(await held(reached, tenantId)).toBeUndefined();
  await expect(server.store.getLive({ tenantId, key: KEY })).rejects.toMatchObject({ code: 'NotFound' });
  // Converged: the next pass finds nothing to do.
  expect((await reconcile({ tenantId, service })).repairs).toEqual([]);
}, 60_000);

test('a rollout lost mid-bake: its never-live candidate is reverted to live, and the key rolls out again', async () => {
  const { tenantId, service, fleet, request } = await fleetOf(4);
  const lost = await startRollout(
    temporal,
    request({ plan: plan({ strategy: { kind: 'explicit', waves: ['50%', '100%'] }, bakeSeconds: 600 }) }),
    taskQueue,
  );
  for (let i = 0; i < 300 && (await lost.query(progressQuery)).state !== 'BAKING'; i += 1) await sleep(100);
  // As if the Temporal server had lost the workflow: it ends where it was, nothing undone.
  await lost.terminate('simulated loss of the workflow');
  const before = await Promise.all(fleet.map((member) => held(member, tenantId)));
  expect(before.sort()).toEqual([1, 1, 2, 2]);
  expect(await server.store.getLive({ tenantId, key: KEY })).toMatchObject({ version: 1 });
  expect(await server.store.latest({ tenantId, key: KEY })).toMatchObject({ version: 2, live: false });

  const result = await reconcile({ tenantId, service });

  expect(result.repairs).toHaveLength(2);
  for (const repair of result.repairs) {
    expect(repair).toMatchObject({
      kind: 'never-live-candidate',
      heldVersion: 2,
      sentVersion: 1,
      succeeded: true,
    });
  }
  for (const member of fleet) expect(await held(member, tenantId)).toBe(1);
  expect((await reconcile({ tenantId, service })).repairs).toEqual([]);

  // Rolling the live version out again works: the leftover candidate does not stand in its way.
  const again = await startRollout(
    temporal,
    request({ change: { kind: 'existing', version: 1 } }),
    taskQueue,
  );
  expect(await again.result()).toMatchObject({
    state: 'SUCCEEDED',
    copyOf: 1,
    liveVersion: 3,
    updatedInstances: 4,
  });
  for (const member of fleet) expect((await member.client.get(tenantId, KEY))?.value).toBe('{"v":1}');
  for (const member of fleet) expect(await held(member, tenantId)).toBe(3);
  const history = await server.store.history({ tenantId, key: KEY });
  expect(history.map(({ version, live }) => [version, live])).toEqual([
    [3, true],
    [2, false],
    [1, false],
  ]);
}, 90_000);

test("a new key's first rollout lost mid-bake: instances forget its candidate, and the key rolls out again", async () => {
  const { tenantId, service, fleet, request } = await fleetOf(2);
  const key = 'param_config_endpoint';
  const address = { tenantId, key, service };
  const firstRollout = (value: string, overrides: Partial<RolloutPlan> = {}) =>
    request({ key, service, change: { kind: 'set', value }, plan: plan(overrides) });
  const lost = await startRollout(
    temporal,
    firstRollout('https://a.example', {
      strategy: { kind: 'explicit', waves: ['50%', '100%'] },
      bakeSeconds: 600,
    }),
    taskQueue,
  );
  for (let i = 0; i < 300 && (await lost.query(progressQuery)).state !== 'BAKING'; i += 1) await sleep(100);
  await lost.terminate('simulated loss of the workflow');
  const heldOf = async (member: FleetMember) => (await member.client.get(tenantId, key, service))?.version;
  expect((await Promise.all(fleet.map(heldOf))).sort()).toEqual([1, undefined]);
  await expect(server.store.getLive(address)).rejects.toMatchObject({ code: 'NotFound' });

  const result = await reconcile({ tenantId, service });

  expect(result.repairs).toEqual([
    expect.objectContaining({
      key,
      service,
      kind: 'removed-key',
      heldVersion: 1,
      sentVersion: 0,
      succeeded: true,
    }),
  ]);
  for (const member of fleet) expect(await heldOf(member)).toBeUndefined();
  // The candidate stays in the store, never live: the next version is numbered above what instances saw.
  expect(await server.store.latest(address)).toMatchObject({ version: 1, live: false });

  const again = await startRollout(temporal, firstRollout('https://b.example'), taskQueue);
  expect(await again.result()).toMatchObject({ state: 'SUCCEEDED', liveVersion: 2, updatedInstances: 2 });
  for (const member of fleet) expect(await heldOf(member)).toBe(2);
}, 60_000);

test('a key held while a rollout of it runs is left to the rollout', async () => {
  const { tenantId, service, fleet, request } = await fleetOf(2);
  const running = await startRollout(
    temporal,
    request({ plan: plan({ strategy: { kind: 'explicit', waves: [1, '100%'] }, bakeSeconds: 600 }) }),
    taskQueue,
  );
  for (let i = 0; i < 300 && (await running.query(progressQuery)).state !== 'BAKING'; i += 1)
    await sleep(100);

  const result = await reconcile({ tenantId, service });

  expect(result).toMatchObject({ repairs: [], skippedKeys: [KEY] });
  expect((await Promise.all(fleet.map((member) => held(member, tenantId)))).sort()).toEqual([1, 2]);
  await running.terminate('test over');
}, 60_000);

test('an instance whose Cloud Map registration was deleted registers again', async () => {
  const { tenantId, service, fleet } = await fleetOf(1, { registrationCheckIntervalMs: 500 });
  const instanceId = fleet[0]!.client.instanceId;
  expect(await registrations(service, instanceId)).not.toEqual([]);

  await deregister(service, instanceId);
  expect(await registrations(service, instanceId)).toEqual([]);

  let back = await registrations(service, instanceId);
  for (let i = 0; i < 100 && back.length === 0; i += 1) {
    await sleep(200);
    back = await registrations(service, instanceId);
  }
  expect(back).toHaveLength(1);
  // Registered with a fresh grant for this very instance: rollouts admit it again.
  const grant = verifyInstanceGrant(
    keyFromFile(
      loadRolloutWorkerSettings().instanceGrantVerifyKeyFile,
      'public',
      'INSTANCE_GRANT_VERIFY_KEY_FILE',
    ),
    back[0]!.Attributes![INSTANCE_ATTRIBUTES.grant]!,
  );
  expect(grant).toMatchObject({ tenancy: 'silo', tenantId, sealingKey: fleet[0]!.client.sealingKey });
}, 60_000);

test('the fleet pass reconciles each tenant and service it is given, each in a workflow of its own', async () => {
  const { tenantId, service, fleet, request } = await fleetOf(1);
  const lost = await startRollout(temporal, request({ plan: plan({ bakeSeconds: 600 }) }), taskQueue);
  for (let i = 0; i < 300 && (await lost.query(progressQuery)).state !== 'BAKING'; i += 1) await sleep(100);
  await lost.terminate('simulated loss of the workflow');
  expect(await held(fleet[0]!, tenantId)).toBe(2);
  // What the schedule's run finds by itself: the tenant in the store, the service in Cloud Map.
  const found = await targets().reconcileTargets();
  expect(found.tenants).toContain(tenantId);
  expect(found.services).toContain(service);

  const totals = await temporal.workflow.execute<typeof reconcileFleetWorkflow>(
    RECONCILE_FLEET_WORKFLOW_TYPE,
    {
      taskQueue,
      workflowId: `reconcile-fleet-${randomUUID()}`,
      args: [{ tenants: [tenantId], services: [service] }],
    },
  );

  expect(totals).toEqual({ passes: 1, repaired: 1, failedPasses: 0 });
  expect(await held(fleet[0]!, tenantId)).toBe(1);
  // Visible in the Temporal UI by its tenant, with what it did in its memo.
  const pass = await temporal.workflow.getHandle(reconcileWorkflowId({ tenantId, service })).describe();
  expect(pass.status.name).toBe('COMPLETED');
  expect(pass.typedSearchAttributes.get(TENANT_ID)).toBe(tenantId);
  expect(pass.memo).toMatchObject({ service, repaired: 1, failedRepairs: 0, unreachable: 0 });
}, 60_000);

test('the schedule follows RECONCILE_INTERVAL_SECONDS: made, changed, and removed with 0', async () => {
  const scheduleId = `reconciler-${randomUUID()}`;
  const options = { taskQueue, scheduleId };
  try {
    await ensureReconcileSchedule(temporal, { ...options, intervalSeconds: 60 });
    const made = await temporal.schedule.getHandle(scheduleId).describe();
    expect(made.spec.intervals).toMatchObject([{ every: 60_000 }]);
    expect(made.action).toMatchObject({ workflowType: RECONCILE_FLEET_WORKFLOW_TYPE, taskQueue });
    expect(made.policies.overlap).toBe('SKIP');

    await ensureReconcileSchedule(temporal, { ...options, intervalSeconds: 120 });
    expect((await temporal.schedule.getHandle(scheduleId).describe()).spec.intervals).toMatchObject([
      { every: 120_000 },
    ]);

    await ensureReconcileSchedule(temporal, { ...options, intervalSeconds: 0 });
    await expect(temporal.schedule.getHandle(scheduleId).describe()).rejects.toThrow(ScheduleNotFoundError);
    // Removing one that is not there is no error.
    await ensureReconcileSchedule(temporal, { ...options, intervalSeconds: 0 });
  } finally {
    await temporal.schedule
      .getHandle(scheduleId)
      .delete()
      .catch(() => undefined);
  }
});
