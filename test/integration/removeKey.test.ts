import { DeleteItemCommand } from '@aws-sdk/client-dynamodb';
import { destroyAwsClients } from '../../activities/awsClients';
import { createRolloutActivities } from '../../activities/rolloutActivities';
import { partitionKey, versionSortKey } from '../../activities/storage/dynamoDbStrategy';
import { freezeStoreFor } from '../../activities/storage/freezeStore';
import { createLogger } from '../../common/logger';
import { DEFAULT_PLAN, type RolloutRequest } from '../../common/rollout';
import { loadRolloutWorkerSettings, loadStorageSettings } from '../../common/settings';
import { createAlarmWatch, createDiscovery, createPusher } from '../../server/rolloutWorker';
import { stackClients, stackStore, uniqueTenant } from '../support/env';

/**
 * The end of a removal against the real stores: it deletes what the removal began with, keeps what was
 * written since, and finishes a delete that a crash cut short.
 */
const KEY = 'tenant_config_sunset';
const clients = stackClients();
const store = stackStore(clients);
const logger = createLogger({ component: 'test' }, 'error');
const activities = createRolloutActivities({
  store,
  discovery: createDiscovery(clients, loadRolloutWorkerSettings(), logger),
  pusher: createPusher(loadRolloutWorkerSettings(), logger),
  logger,
  readCacheTtlMs: 0,
  freezes: freezeStoreFor(clients, loadStorageSettings()),
  alarms: createAlarmWatch(clients, loadRolloutWorkerSettings(), logger),
});

afterAll(() => destroyAwsClients(clients));

function removal(tenantId: string): RolloutRequest {
  return {
    tenantId,
    key: KEY,
    change: { kind: 'remove' },
    targetServices: ['orders'],
    plan: DEFAULT_PLAN,
    actor: 'alice',
  };
}

async function liveKey() {
  const tenantId = uniqueTenant('rm');
  const address = { tenantId, key: KEY };
  await store.put(address, '{"v":1}', { expectedVersion: 0, makeLive: true });
  const { newest } = await activities.prepareRollout(removal(tenantId));
  if (!newest) throw new Error('prepareRollout did not record the newest version');
  return { tenantId, address, newest };
}

test('the version the removal began with is deleted', async () => {
  const { tenantId, address, newest } = await liveKey();
  await activities.removeKey({ request: removal(tenantId), removing: newest });
  expect(await store.latest(address)).toBeUndefined();
});

test('a version written during the removal is kept for its own rollout', async () => {
  const { tenantId, address, newest } = await liveKey();
  await store.put(address, '{"v":2}', { expectedVersion: 1, makeLive: false });
  expect(await activities.removeKey({ request: removal(tenantId), removing: newest })).toMatchObject({
    keptVersion: 2,
    stillLiveVersion: 1,
  });
  expect(await store.latest(address)).toMatchObject({ version: 2, value: '{"v":2}' });
});

test('a delete a crash cut short (the newest version item gone, the key still served) is finished', async () => {
  const { tenantId, address, newest } = await liveKey();
  await clients.dynamodb.send(
    new DeleteItemCommand({
      TableName: loadStorageSettings().tableName,
      Key: { PK: { S: partitionKey(tenantId) }, SK: { S: versionSortKey(KEY, 1) } },
    }),
  );
  expect(await store.latest(address)).toBeUndefined();
  expect(await store.getLive(address)).toMatchObject({ version: 1 });

  await activities.removeKey({ request: removal(tenantId), removing: newest });
  await expect(store.getLive(address)).rejects.toMatchObject({ code: 'NotFound' });
});

test('a run started by older workflow code (no `removing`) deletes the key, as it did then', async () => {
  const { tenantId, address } = await liveKey();
  await store.put(address, '{"v":2}', { expectedVersion: 1, makeLive: false });
  await activities.removeKey({ request: removal(tenantId) });
  expect(await store.latest(address)).toBeUndefined();
});
