import { setTimeout as sleep } from 'node:timers/promises';
import { DeleteItemCommand } from '@aws-sdk/client-dynamodb';
import type { Client } from '@temporalio/client';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { destroyAwsClients } from '../../activities/awsClients';
import { partitionKey, versionSortKey } from '../../activities/storage/dynamoDbStrategy';
import type { ServiceInstance } from '../../common/cloudMap';
import { createLogger } from '../../common/logger';
import type { RolloutPlan, RolloutRequest } from '../../common/rollout';
import { loadRolloutWorkerSettings, loadStorageSettings } from '../../common/settings';
import { startRollout } from '../../rolloutClient';
import { createDiscovery, createPusher } from '../../server/rolloutWorker';
import { progressQuery } from '../../workflows/definitions';
import { stackClients, uniqueTenant } from '../support/env';
import { type FleetMember, startInstance } from '../support/fleet';
import { waitForState } from '../support/rolloutState';
import { startTestServer, type TestServer } from '../support/server';

/**
 * Every end of a rollout but success rolls back, on the real stack (Temporal dev server, the worker's
 * real activities, DynamoDB and Cloud Map on moto, real SDK instances, one of them a process of its own
 * that is frozen with SIGSTOP): whatever failed, every instance ends on the live version, the store's
 * live version is unchanged, and the rollout's record says which instances were reverted.
 */
const REPO = path.join(__dirname, '..', '..');
const KEY = 'tenant_config_featureFlags';
const LIVE = '{"beta":false}';
const clients = stackClients();
const settings = loadRolloutWorkerSettings();
const logger = createLogger({ component: 'test' }, 'error');
const discovery = createDiscovery(clients, settings, logger);
const pusher = createPusher(settings, logger);
const members: FleetMember[] = [];
const children: ChildProcess[] = [];
let server: TestServer;
let temporal: Client;
let taskQueue: string;

beforeAll(async () => {
  server = await startTestServer({ rollouts: true });
  temporal = server.temporal!;
  taskQueue = server.taskQueue!;
}, 60_000);

afterAll(async () => {
  for (const child of children) {
    child.kill('SIGCONT');
    child.kill('SIGTERM');
  }
  await Promise.all(members.map((member) => member.client.stop()));
  pusher.close();
  await server.stop();
  destroyAwsClients(clients);
});

const plan = (overrides: Partial<RolloutPlan> = {}): RolloutPlan => ({
  strategy: { kind: 'explicit', waves: [1, '100%'] },
  bakeSeconds: 0,
  approval: 'none',
  maxFailures: 0,
  push: { timeoutMs: 1000, attempts: 2, concurrency: 8 },
  ...overrides,
});

/** A tenant with version 1 live and `size` in-process instances of a service of its own holding it. */
async function setUp(size: number) {
  const tenantId = uniqueTenant('rb');
  const service = `rb-${randomUUID().slice(0, 6)}`;
  await server.store.put({ tenantId, key: KEY }, LIVE, { expectedVersion: 0, makeLive: true });
  for (let i = 0; i < size; i += 1) {
    members.push(
      await startInstance({ server, clients, service, tenancy: tenantId, preload: [{ tenantId, key: KEY }] }),
    );
  }
  const request = (overrides: Partial<RolloutRequest> = {}): RolloutRequest => ({
    tenantId,
    key: KEY,
    change: { kind: 'set', value: '{"beta":true}' },
    targetServices: [service],
    plan: plan(),
    actor: 'release-manager@acme',
    ...overrides,
  });
  return { tenantId, service, request };
}

/** Every instance of the service: their Health answer holds the live version 1 and SERVING. */
async function expectAllOnLiveVersion(tenantId: string, service: string, count: number) {
  const instances: ServiceInstance[] = await discovery.instancesServing(tenantId, [service]);
  expect(instances).toHaveLength(count);
  const health = await pusher.check(instances, { tenantId, key: KEY }, 1, {
    timeoutMs: 2000,
    attempts: 3,
    concurrency: 8,
  });
  expect(health.failed).toEqual([]);
  expect((await server.store.getLive({ tenantId, key: KEY })).version).toBe(1);
}

test('a promotion the store refuses (not a version conflict) rolls every instance back; live stays where it was', async () => {
  const { tenantId, service, request } = await setUp(3);
  const handle = await startRollout(temporal, request({ plan: plan({ bakeSeconds: 3 }) }), taskQueue);
  const baking = await waitForState(handle, 'BAKING');
  // The candidate's version item goes missing from the table: the promotion cannot find what to make
  // live (NotFound, which retrying cannot fix).
  await clients.dynamodb.send(
    new DeleteItemCommand({
      TableName: loadStorageSettings().tableName,
      Key: {
        PK: { S: partitionKey(tenantId) },
        SK: { S: versionSortKey(KEY, baking.candidateVersion!) },
      },
    }),
  );
  const result = await handle.result();

  expect(result).toMatchObject({ state: 'ROLLED_BACK', liveVersion: 1, revertedInstances: 3 });
  expect(result.reason).toMatch(/failed while promoting \(NotFound\)/);
  expect(result.notReverted).toBeUndefined();
  expect(await handle.query(progressQuery)).toMatchObject({
    state: 'ROLLED_BACK',
    instances: { total: 3, updated: 0, failed: 0, pending: 0, reverted: 3 },
  });
  await expectAllOnLiveVersion(tenantId, service, 3);
  expect((await server.store.getLive({ tenantId, key: KEY })).value).toBe(LIVE);
}, 60_000);

test('cancelling a rollout mid-bake reverts the instances it reached, and the candidate never goes live', async () => {
  const { tenantId, service, request } = await setUp(3);
  const handle = await startRollout(temporal, request({ plan: plan({ bakeSeconds: 60 }) }), taskQueue);
  await waitForState(handle, 'BAKING');
  await handle.cancel();
  const result = await handle.result();

  expect(result).toMatchObject({ state: 'ROLLED_BACK', liveVersion: 1, revertedInstances: 1 });
  expect(result.reason).toMatch(/the workflow was cancelled while baking/);
  await expectAllOnLiveVersion(tenantId, service, 3);
}, 60_000);

/** The orders-service example in a process of its own, and the changes it logs (version and cause). */
async function spawnInstance(tenantId: string, service: string) {
  const child = spawn(process.execPath, ['--require', 'tsx/cjs', 'examples/orders-service/main.ts'], {
    cwd: REPO,
    env: {
      ...process.env,
      CONFIG_SERVICE_ADDRESS: server.grpcAddress,
      SERVICE_NAME: service,
      TENANT_ID: tenantId,
      CLOUD_MAP_NAMESPACE: settings.cloudMapNamespace,
      CLOUD_MAP_CREATE_SERVICE: 'true',
      REFRESH_PORT: '0',
      VERSION_CHECK_INTERVAL_MS: '0',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  children.push(child);
  const changes: { version: number; cause: string }[] = [];
  let instanceId: string | undefined;
  const ready = new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the instance exited (${code}) before it was ready`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      const entry = JSON.parse(line) as {
        message: string;
        instanceId?: string;
        version?: number;
        cause?: string;
      };
      if (entry.message === 'orders service ready') {
        instanceId = entry.instanceId;
        resolve();
      }
      if (entry.message === 'config changed') changes.push({ version: entry.version!, cause: entry.cause! });
    });
  });
  await ready;
  return { child, changes, instanceId: instanceId! };
}

test('an instance frozen past the push timeout during a rollout that rolls back ends on the live version, and the record says so', async () => {
  const { tenantId, service, request } = await setUp(1);
  const frozen = await spawnInstance(tenantId, service);
  frozen.child.kill('SIGSTOP');
  const handle = await startRollout(
    temporal,
    request({ plan: plan({ strategy: { kind: 'explicit', waves: ['100%'] } }) }),
    taskQueue,
  );
  // The candidate's push to it timed out (over the budget: the rollback began), and so did a revert.
  await waitForState(handle, 'ROLLING_BACK');
  await sleep(2000);
  frozen.child.kill('SIGCONT');
  const result = await handle.result();

  expect(result).toMatchObject({ state: 'ROLLED_BACK', liveVersion: 1, revertedInstances: 2 });
  expect(result.reason).toMatch(/over the plan's budget of 0/);
  expect(result.notReverted).toBeUndefined();
  // It failed the candidate's push (why the rollout rolled back), and was reverted all the same. (On a
  // loaded machine the other instance may have missed the short deadline too: it is reverted as well.)
  const progress = await handle.query(progressQuery);
  expect(progress.instances).toMatchObject({ total: 2, updated: 0, pending: 0, reverted: 2 });
  expect(progress.failedInstances).toContainEqual({
    instanceId: `${service}/${frozen.instanceId}`,
    reason: expect.stringMatching(/DEADLINE_EXCEEDED/) as unknown,
  });
  expect(progress.failedInstances.map(({ reason }) => reason).join()).not.toMatch(/not reverted/);
  await expectAllOnLiveVersion(tenantId, service, 2);
  // Whatever reached it late, in whatever order, its last change was to the live version.
  expect(frozen.changes.at(-1)?.version ?? 1).toBe(1);
}, 60_000);

test('a revert that reaches an instance before the candidate it reverts fences the candidate off', async () => {
  const { tenantId, service } = await setUp(1);
  const instances = await discovery.instancesServing(tenantId, [service]);
  const push = { timeoutMs: 2000, attempts: 2, concurrency: 1 };
  const payload = {
    tenantId,
    key: KEY,
    format: 'json',
    rolloutId: `frozen-${randomUUID()}`,
  };
  // What a frozen instance may see on waking: the rollback first, the candidate's retried push after.
  const revert = await pusher.push(instances, { ...payload, version: 1, value: LIVE, revertFrom: 2 }, push);
  expect(revert.failed).toEqual([]);
  const late = await pusher.push(instances, { ...payload, version: 2, value: '{"beta":true}' }, push);
  expect(late.failed).toEqual([
    { instance: `${service}/${members.at(-1)!.client.instanceId}`, reason: 'holds version 1, not 2' },
  ]);
  await expectAllOnLiveVersion(tenantId, service, 1);
  expect((await members.at(-1)!.client.get(tenantId, KEY))?.value).toBe(LIVE);
}, 30_000);
