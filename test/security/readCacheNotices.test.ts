import * as grpc from '@grpc/grpc-js';
import type { ConfigStore } from '../../activities/storage/configStore';
import type { ConfigAddress } from '../../common/configAddress';
import { CONFIG_SERVICE_REPLICAS, type ServiceInstance } from '../../common/cloudMap';
import { createLogger } from '../../common/logger';
import { loadProto } from '../../common/proto';
import { type ReadCacheScope, readCacheScope } from '../../common/pushGrant';
import { loadRolloutWorkerSettings } from '../../common/settings';
import { generateSealingKeys } from '../../common/sealedValue';
import type { ProtoGrpcType } from '../../gen/proto/readCache';
import type { InvalidateRequest } from '../../gen/proto/configsvc/v1/InvalidateRequest';
import type { ReadCacheClient } from '../../gen/proto/configsvc/v1/ReadCache';
import { ConfigReaderClient } from '../../sdk/configReaderClient';
import { ConfigServiceError } from '../../sdk/errors';
import { createDiscovery } from '../../server/rolloutWorker';
import { stackClients, uniqueTenant } from '../support/env';
import { type PushCredentials, type PushTarget, TestControlPlane } from '../support/refreshCaller';
import { startTestServer, type TestServer } from '../support/server';
import { validToken } from '../support/tokens';

/**
 * The config service's ReadCache (proto/readCache.proto) attacked: only the rollout worker may drop a
 * cached answer, a notice touches only the tenant and key its grant names, and nothing an attacker
 * sends costs more than a refused call.
 */
const clients = stackClients();
const discovery = createDiscovery(clients, loadRolloutWorkerSettings(), createLogger({}, 'error'));
const reads: ConfigAddress[] = [];
let server: TestServer;
let replica: PushTarget;
let caller: ReadCacheClient;
const worker = TestControlPlane.ofStack();

/** Counts the replica's reads that reach the store: a dropped entry is read again. */
function counted(store: ConfigStore): ConfigStore {
  const wrapped = Object.create(store) as ConfigStore;
  wrapped.getLive = (address) => {
    reads.push(address);
    return store.getLive(address);
  };
  return wrapped;
}

beforeAll(async () => {
  // A cache that outlives the whole file: an entry found gone was dropped, not expired.
  server = await startTestServer({ wrapStore: counted, readCacheTtlMs: 60_000 });
  const found = await discovery.registrationsOf(CONFIG_SERVICE_REPLICAS);
  const self = found.admitted.find((instance) => instance.instanceId === server.replica?.instanceId);
  if (!self) throw new Error('the test server did not register as a read-cache replica');
  replica = targetOf(self);
  const { proto } = loadProto<ProtoGrpcType>('readCache.proto');
  caller = new proto.configsvc.v1.ReadCache(replica.address, grpc.credentials.createInsecure());
}, 60_000);

afterAll(async () => {
  caller?.close();
  await server?.stop();
  clients.serviceDiscovery.destroy();
  clients.dynamodb.destroy();
  clients.ssm.destroy();
});

function targetOf(instance: ServiceInstance): PushTarget {
  return {
    service: instance.service,
    instanceId: instance.instanceId,
    address: `${instance.address}:${instance.port}`,
    sealingKey: instance.sealingKey,
  };
}

/** A live key of a tenant of its own, read once through the replica so its answer is cached. */
async function cachedKey(): Promise<ConfigAddress> {
  const address = { tenantId: uniqueTenant('notice'), key: 'tenant_config_flags' };
  await server.store.put(address, '{"v":1}', { expectedVersion: 0, makeLive: true });
  await server.reader.getLive(address);
  return address;
}

/** Whether the replica still answers `address` from its cache (a read that does not reach the store). */
async function stillCached(address: ConfigAddress): Promise<boolean> {
  const before = reads.length;
  await server.reader.getLive(address);
  return reads.length === before;
}

function notice(address: ConfigAddress, version = 2): { request: InvalidateRequest; scope: ReadCacheScope } {
  const scope = readCacheScope({ ...address, version, removed: false, rolloutId: 'r-1' });
  return {
    request: {
      tenant_id: address.tenantId,
      key: address.key,
      service: '',
      version,
      removed: false,
      rollout_id: 'r-1',
    },
    scope,
  };
}

function invalidate(
  request: InvalidateRequest,
  credentials: PushCredentials,
): Promise<{ code: grpc.status; details?: string; dropped?: boolean }> {
  const metadata = new grpc.Metadata();
  if (credentials.authorization) metadata.set('authorization', credentials.authorization);
  if (credentials.session) metadata.set('x-push-session', credentials.session);
  return new Promise((resolve) =>
    caller.Invalidate(request, metadata, (error, response) =>
      resolve(
        error
          ? { code: error.code, details: error.details }
          : { code: grpc.status.OK, dropped: response?.dropped },
      ),
    ),
  );
}

test('a replica registers under the reserved service with a grant the worker admits, and leaves on stop', async () => {
  const other = await startTestServer();
  const id = other.replica?.instanceId;
  const listed = async () =>
    (await discovery.registrationsOf(CONFIG_SERVICE_REPLICAS)).admitted.map((r) => r.instanceId);
  expect(await listed()).toContain(id);
  await other.stop();
  expect(await listed()).not.toContain(id);
});

test('the worker’s notice drops that key’s cached answer: the next read reaches the store', async () => {
  const address = await cachedKey();
  expect(await stillCached(address)).toBe(true);
  const { request, scope } = notice(address);
  const answer = await invalidate(request, worker.authorization(replica, scope));
  expect(answer).toEqual({ code: grpc.status.OK, dropped: true });
  expect(await stillCached(address)).toBe(false);
});

describe('nobody but the worker may drop a cached answer', () => {
  test.each([
    ['no credentials at all', () => ({})],
    [
      'a grant without the worker’s session',
      (scope: ReadCacheScope) => ({
        authorization: worker.authorization(replica, scope).authorization,
      }),
    ],
    [
      'a control plane signing with a key the platform does not trust',
      (scope: ReadCacheScope) => new TestControlPlane().authorization(replica, scope),
    ],
    [
      'a grant MAC’d for another replica’s sealing key',
      (scope: ReadCacheScope) =>
        worker.authorization({ ...replica, sealingKey: generateSealingKeys().publicKey }, scope),
    ],
    [
      'a grant naming another replica',
      (scope: ReadCacheScope) =>
        worker.authorization(replica, scope, { grantTarget: { instanceId: 'replica-10.0.0.9-50051' } }),
    ],
    [
      'a grant for another address',
      (scope: ReadCacheScope) =>
        worker.authorization(replica, scope, { grantTarget: { address: '127.0.0.2:1' } }),
    ],
    [
      'a grant that expired',
      (scope: ReadCacheScope) =>
        worker.authorization(replica, scope, { nowSeconds: Math.floor(Date.now() / 1000) - 120 }),
    ],
    [
      'a grant for a CacheRefresh health check',
      () => worker.authorization(replica, { op: 'health', keysHash: 'x' }),
    ],
  ])('%s is refused UNAUTHENTICATED, and the entry stays', async (_, credentialsFor) => {
    const address = await cachedKey();
    const { request, scope } = notice(address);
    const answer = await invalidate(request, credentialsFor(scope));
    expect(answer.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(await stillCached(address)).toBe(true);
  });

  test('a notice for tenant A cannot be replayed for tenant B, another key or another version', async () => {
    const a = await cachedKey();
    const b = await cachedKey();
    const { scope } = notice(a);
    const forA = worker.authorization(replica, scope);
    for (const request of [
      notice(b).request,
      { ...notice(a).request, key: 'tenant_config_other' },
      { ...notice(a).request, version: 3 },
    ]) {
      const answer = await invalidate(request, forA);
      expect(answer.code).toBe(grpc.status.UNAUTHENTICATED);
      expect(answer.details).toMatch(/does not authorise this/);
    }
    expect(await stillCached(b)).toBe(true);
    expect(await stillCached(a)).toBe(true);
  });

  test('a notice the worker sent once is refused when replayed', async () => {
    const address = await cachedKey();
    const { request, scope } = notice(address);
    const credentials = worker.authorization(replica, scope);
    expect((await invalidate(request, credentials)).code).toBe(grpc.status.OK);
    await server.reader.getLive(address);
    const replayed = await invalidate(request, credentials);
    expect(replayed.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(replayed.details).toMatch(/used before/);
    expect(await stillCached(address)).toBe(true);
  });

  test('a flood of forged notices is refused call by call: the cache keeps every entry and grows nothing', async () => {
    const address = await cachedKey();
    const entries = server.reader.size;
    const forger = new TestControlPlane();
    const answers = await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        invalidate(
          notice({ ...address, tenantId: uniqueTenant(`f${i}`) }).request,
          forger.authorization(replica, notice(address).scope),
        ),
      ),
    );
    expect(answers.every((answer) => answer.code === grpc.status.UNAUTHENTICATED)).toBe(true);
    expect(server.reader.size).toBe(entries);
    expect(await stillCached(address)).toBe(true);
  });
});

test('no instance grant is issued for the reserved replicas’ service, even to the platform’s pool services', async () => {
  const reader = new ConfigReaderClient(server.grpcAddress, () => Promise.resolve(''));
  try {
    const refused = await reader
      .issueInstanceGrant(
        { service: CONFIG_SERVICE_REPLICAS, tenancy: 'pool', sealingKey: generateSealingKeys().publicKey },
        validToken({ tenantId: 'platform', groups: ['pool-services'] }),
      )
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ConfigServiceError);
    expect((refused as ConfigServiceError).status).toBe(grpc.status.PERMISSION_DENIED);
    expect((refused as ConfigServiceError).field).toBe('service');
  } finally {
    reader.close();
  }
});
