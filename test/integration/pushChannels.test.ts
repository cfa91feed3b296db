import { randomUUID } from 'node:crypto';
import { destroyAwsClients, type AwsClients } from '../../activities/awsClients';
import { RefreshPusher } from '../../activities/refresh/refreshPusher';
import type { ServiceInstance } from '../../common/cloudMap';
import { keyFromFile } from '../../common/keyFiles';
import { createLogger } from '../../common/logger';
import { DEFAULT_PUSH_SETTINGS } from '../../common/rollout';
import { loadRolloutWorkerSettings } from '../../common/settings';
import { createDiscovery } from '../../server/rolloutWorker';
import { stackClients, uniqueTenant } from '../support/env';
import { type FleetMember, startInstance } from '../support/fleet';
import { startTestServer, type TestServer } from '../support/server';
import { until } from '../support/until';

/**
 * The worker keeps its gRPC channels to instances warm across pushes (activities/refresh/channelPool.ts):
 * real SDK instances registered in the stack's Cloud Map, the worker's own pusher and discovery.
 */
const KEY = 'tenant_config_featureFlags';
const IDLE_MS = 400;
const logger = createLogger({ component: 'test' }, 'error');
const settings = loadRolloutWorkerSettings();
const pushSettings = { ...DEFAULT_PUSH_SETTINGS, attempts: 1, timeoutMs: 2000 };

let server: TestServer;
let clients: AwsClients;
const members: FleetMember[] = [];
const tenant = uniqueTenant('chan');
const service = `chan-${randomUUID().slice(0, 6)}`;
let instances: ServiceInstance[];

beforeAll(async () => {
  server = await startTestServer();
  clients = stackClients();
  await server.store.put({ tenantId: tenant, key: KEY }, '{"v":1}', { expectedVersion: 0, makeLive: true });
  for (let i = 0; i < 2; i += 1) {
    members.push(
      await startInstance({
        server,
        clients,
        service,
        tenancy: tenant,
        preload: [{ tenantId: tenant, key: KEY }],
      }),
    );
  }
  instances = await createDiscovery(clients, settings, logger).instancesServing(tenant, [service]);
}, 120_000);

afterAll(async () => {
  await Promise.all(members.map((member) => member.client.stop()));
  destroyAwsClients(clients);
  await server.stop();
});

function pusher(max = 16) {
  return new RefreshPusher(
    keyFromFile(settings.pushSigningKeyFile, 'private', 'PUSH_SIGNING_KEY_FILE'),
    logger,
    undefined,
    { max, idleMs: IDLE_MS },
  );
}

const payload = (version: number) => ({
  tenantId: tenant,
  key: KEY,
  version,
  value: `{"v":${version}}`,
  format: 'json',
  rolloutId: `chan-${version}`,
});

const heldVersions = () =>
  Promise.all(members.map(async (member) => (await member.client.get(tenant, KEY))?.version));

test('pushes of later rollouts reuse each instance’s channel; an idle channel is closed, and the next push dials again', async () => {
  expect(instances).toHaveLength(2);
  const worker = pusher();
  try {
    expect((await worker.push(instances, payload(2), pushSettings)).failed).toEqual([]);
    expect(worker.openChannels).toBe(2);
    expect((await worker.push(instances, payload(3), pushSettings)).failed).toEqual([]);
    expect((await worker.check(instances, { tenantId: tenant, key: KEY }, 3, pushSettings)).failed).toEqual(
      [],
    );
    expect(worker.openChannels).toBe(2);
    expect(await heldVersions()).toEqual([3, 3]);

    await until(
      'the idle channels closed',
      () => Promise.resolve(worker.openChannels === 0 || undefined),
      10,
    );
    expect((await worker.push(instances, payload(4), pushSettings)).failed).toEqual([]);
    expect(worker.openChannels).toBe(2);
    expect(await heldVersions()).toEqual([4, 4]);
  } finally {
    worker.close();
  }
});

test('a registration at the same address under another instance id gets a channel of its own, and its push is refused', async () => {
  const worker = pusher();
  try {
    const [real] = instances;
    const impostor: ServiceInstance = { ...real!, instanceId: `${real!.instanceId}-other` };
    expect((await worker.push([real!], payload(5), pushSettings)).failed).toEqual([]);
    const refused = await worker.push([impostor], payload(6), pushSettings);
    expect(refused.succeeded).toEqual([]);
    expect(worker.openChannels).toBe(2);
    const pushedTo = members.find((member) => member.client.instanceId === real!.instanceId)!;
    expect((await pushedTo.client.get(tenant, KEY))?.version).toBe(5);
  } finally {
    worker.close();
  }
});

test('past its bound the pusher closes channels it has not used lately, and pushes still reach every instance', async () => {
  const worker = pusher(1);
  try {
    expect((await worker.push(instances, payload(7), pushSettings)).failed).toEqual([]);
    expect(worker.openChannels).toBe(1);
    expect(await heldVersions()).toEqual([7, 7]);
  } finally {
    worker.close();
  }
});
