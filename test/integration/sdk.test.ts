import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import { DeleteServiceCommand, DiscoverInstancesCommand } from '@aws-sdk/client-servicediscovery';
import { randomUUID } from 'node:crypto';
import { findNamespaceId, findServiceId } from '../../common/cloudMapSetup';
import { type AwsClients, destroyAwsClients } from '../../activities/awsClients';
import { verifyInstanceGrant } from '../../common/instanceGrant';
import { keyFromFile } from '../../common/keyFiles';
import { createLogger } from '../../common/logger';
import { ConfigClient, type ConfigClientOptions } from '../../sdk/configClient';
import type { ConfigChange } from '../../sdk/heldConfig';
import { stackClients, uniqueTenant } from '../support/env';
import { type PlainPush, RefreshCaller, TestControlPlane, targetOf } from '../support/refreshCaller';
import { startTestServer, type TestServer } from '../support/server';
import { validToken } from '../support/tokens';

/**
 * The SDK against the real pieces: the config service over gRPC (with the local issuer's service
 * tokens), the moto servers behind it, Cloud Map on moto, and pushes signed with the control plane's key.
 */
const FLAGS = 'tenant_config_featureFlags';
const ENDPOINT = 'param_config_apiEndpoint';
// The moto server is shared by test files running in parallel: this file's instances get a service of their own.
const SERVICE = `sdk-it-${randomUUID().slice(0, 8)}`;

let server: TestServer;
let aws: AwsClients;
let namespace: string;
let controlPlane: TestControlPlane;
const running: ConfigClient[] = [];

beforeAll(async () => {
  server = await startTestServer();
  aws = stackClients();
  namespace = requiredEnv('CLOUD_MAP_NAMESPACE');
  controlPlane = TestControlPlane.ofStack();
});

afterAll(async () => {
  await Promise.all(running.map((client) => client.stop()));
  const namespaceId = await findNamespaceId(aws.serviceDiscovery, namespace);
  const serviceId = namespaceId && (await findServiceId(aws.serviceDiscovery, namespaceId, SERVICE));
  if (serviceId) await aws.serviceDiscovery.send(new DeleteServiceCommand({ Id: serviceId }));
  destroyAwsClients(aws);
  await server.stop();
});

function grantVerifyKey() {
  return keyFromFile(
    requiredEnv('INSTANCE_GRANT_VERIFY_KEY_FILE'),
    'public',
    'INSTANCE_GRANT_VERIFY_KEY_FILE',
  );
}

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: the jest global setup exports it`);
  return value;
}

/**
 * A started client for `tenantId`, counting the service tokens it asks for (one per ConfigService read;
 * its instance grant is asked for with a token of its own, uncounted).
 */
async function startClient(tenantId: string, overrides: Partial<ConfigClientOptions> = {}) {
  const reads: string[] = [];
  const grantGroup = overrides.tenancy?.kind === 'pool' ? 'pool-services' : 'services';
  const client = new ConfigClient({
    service: SERVICE,
    tenancy: { kind: 'silo', tenantId },
    configServiceAddress: server.grpcAddress,
    tokenFor: (tenant) => {
      reads.push(tenant);
      return Promise.resolve(validToken({ tenantId: tenant, groups: ['services'] }));
    },
    refreshServer: { host: '127.0.0.1', port: 0 },
    pushVerifyKeyPem: controlPlane.publicKeyPem,
    cloudMap: {
      client: aws.serviceDiscovery,
      namespace,
      createServiceIfMissing: true,
      zone: 'zone-a',
      grantToken: () => Promise.resolve(validToken({ tenantId, groups: [grantGroup] })),
    },
    versionCheckIntervalMs: 0,
    logger: createLogger({ component: 'sdk-test' }, 'error'),
    ...overrides,
  });
  await client.start();
  running.push(client);
  const caller = new RefreshCaller(`127.0.0.1:${client.refreshPort}`);
  const target = targetOf(client, SERVICE);
  /** A push as the rollout worker sends it: sealed to this instance, with a grant for exactly it. */
  const push = (plain: PlainPush) => caller.refresh(...controlPlane.refresh(target, plain));
  const health = (keys: Parameters<TestControlPlane['health']>[1]) =>
    caller.health(...controlPlane.health(target, keys));
  return { client, reads, caller, target, push, health };
}

async function seed(tenantId: string, key: string, value: string, service?: string): Promise<number> {
  const written = await server.store.put({ tenantId, key, service }, value, {
    expectedVersion: 0,
    makeLive: true,
  });
  return written.version;
}

function changesOf(client: ConfigClient, key: string): ConfigChange[] {
  const changes: ConfigChange[] = [];
  client.onChange(key, (change) => {
    changes.push(change);
  });
  return changes;
}

async function eventually(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(50);
  }
}

const flagsPush = (
  tenantId: string,
  version: number,
  value: string,
  extra: { revert_from?: number } = {},
) => ({
  tenant_id: tenantId,
  key: FLAGS,
  version,
  value,
  format: 'json',
  rollout_id: `rollout-${version}`,
  ...extra,
});

describe('start()', () => {
  test('is ready only after the first load: values stored before start are served at once, with no read', async () => {
    const tenant = uniqueTenant('ready');
    await seed(tenant, FLAGS, '{"beta":true}');
    await seed(tenant, ENDPOINT, 'https://orders.example', SERVICE);
    const { client, reads } = await startClient(tenant, {
      preload: [
        { tenantId: tenant, key: FLAGS },
        { tenantId: tenant, key: ENDPOINT, service: SERVICE },
        { tenantId: tenant, key: 'tenant_config_neverWritten' },
      ],
    });
    const readsAtReady = reads.length;
    // Each preloaded key: its first load, and once more after the registration (a rollout whose sweep
    // ran before the instance was findable never pushed to it).
    expect(readsAtReady).toBe(6);
    expect(await client.get(tenant, FLAGS)).toEqual({ version: 1, value: '{"beta":true}', format: 'json' });
    expect(await client.get(tenant, ENDPOINT, SERVICE)).toEqual({
      version: 1,
      value: 'https://orders.example',
      format: 'text',
    });
    expect(await client.get(tenant, 'tenant_config_neverWritten')).toBeUndefined();
    expect(reads).toHaveLength(readsAtReady);
  });

  test('a key that was not preloaded is read through ConfigService once, then served from memory', async () => {
    const tenant = uniqueTenant('miss');
    await seed(tenant, FLAGS, '{"late":1}');
    const { client, reads } = await startClient(tenant);
    expect(reads).toHaveLength(0);
    expect((await client.get(tenant, FLAGS))?.value).toBe('{"late":1}');
    expect((await client.get(tenant, FLAGS))?.value).toBe('{"late":1}');
    expect(reads).toEqual([tenant]);
  });

  test('a tenant-wide key asked for with a service is refused, naming the service', async () => {
    const tenant = uniqueTenant('scope');
    await seed(tenant, FLAGS, '{}');
    const { client } = await startClient(tenant);
    await expect(client.get(tenant, FLAGS, SERVICE)).rejects.toMatchObject({ field: 'service' });
  });
});

describe('Cloud Map registration', () => {
  const discover = async () =>
    (
      await aws.serviceDiscovery.send(
        new DiscoverInstancesCommand({ NamespaceName: namespace, ServiceName: SERVICE, HealthStatus: 'ALL' }),
      )
    ).Instances ?? [];

  test('a started instance is discoverable with its address, port, tenancy, tenant and zone; after stop() it is gone', async () => {
    const tenant = uniqueTenant('cm');
    const { client } = await startClient(tenant);
    expect(client.instanceId).toBe(`${SERVICE}-127.0.0.1-${client.refreshPort}`);
    const registered = (await discover()).find((instance) => instance.InstanceId === client.instanceId);
    expect(registered?.Attributes).toEqual({
      AWS_INSTANCE_IPV4: '127.0.0.1',
      AWS_INSTANCE_PORT: String(client.refreshPort),
      tenancy: 'silo',
      tenant,
      zone: 'zone-a',
      grant: expect.any(String) as unknown,
    });
    // The config service's grant: for this service, this tenant's silo, and this instance's sealing key.
    expect(verifyInstanceGrant(grantVerifyKey(), registered?.Attributes?.grant ?? '')).toMatchObject({
      service: SERVICE,
      tenancy: 'silo',
      tenantId: tenant,
      sealingKey: client.sealingKey,
    });

    await client.stop();
    expect((await discover()).map((instance) => instance.InstanceId)).not.toContain(client.instanceId);
  });

  test('a pooled instance registers as pool, with no tenant', async () => {
    const { client } = await startClient('unused', { tenancy: { kind: 'pool' } });
    const registered = (await discover()).find((instance) => instance.InstanceId === client.instanceId);
    expect(registered?.Attributes).toMatchObject({ tenancy: 'pool' });
    expect(registered?.Attributes).not.toHaveProperty('tenant');
    expect(verifyInstanceGrant(grantVerifyKey(), registered?.Attributes?.grant ?? '')).toMatchObject({
      tenancy: 'pool',
      sealingKey: client.sealingKey,
    });
  });
});

describe('pushes over gRPC', () => {
  test('a signed push applies, is served by get() and fires onChange with the rollout id', async () => {
    const tenant = uniqueTenant('push');
    await seed(tenant, FLAGS, '{"beta":false}');
    const { client, caller, push } = await startClient(tenant, {
      preload: [{ tenantId: tenant, key: FLAGS }],
    });
    const changes = changesOf(client, FLAGS);

    const outcome = await push(flagsPush(tenant, 2, '{"beta":true}'));

    expect(outcome.response).toEqual({ held_version: 2, applied: true, key_status_before: 'SERVING' });
    expect(await client.get(tenant, FLAGS)).toEqual({ version: 2, value: '{"beta":true}', format: 'json' });
    expect(changes).toEqual([
      {
        tenantId: tenant,
        key: FLAGS,
        previous: { version: 1, value: '{"beta":false}', format: 'json' },
        current: { version: 2, value: '{"beta":true}', format: 'json' },
        heldVersion: 2,
        cause: 'push',
        rolloutId: 'rollout-2',
      },
    ]);
    caller.close();
  });

  test('an unauthenticated push, or one signed for another service, is refused and changes nothing', async () => {
    const tenant = uniqueTenant('unauth');
    await seed(tenant, FLAGS, '{"v":1}');
    const { client, caller, target } = await startClient(tenant, {
      preload: [{ tenantId: tenant, key: FLAGS }],
    });

    const [request, grant] = controlPlane.refresh(target, flagsPush(tenant, 2, '{"v":2}'));
    const unsigned = await caller.refresh(request);
    const otherService = await caller.refresh(
      request,
      controlPlane.refresh(target, flagsPush(tenant, 2, '{"v":2}'), {
        grantTarget: { service: 'billing' },
      })[1],
    );
    expect(grant.authorization).toMatch(/^Bearer /);

    expect(unsigned.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(otherService.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(otherService.details).toMatch(/not for this instance/);
    expect((await client.get(tenant, FLAGS))?.version).toBe(1);
    caller.close();
  });

  test('a stale push does not replace a newer version', async () => {
    const tenant = uniqueTenant('stale');
    const { client, caller, push } = await startClient(tenant);
    await push(flagsPush(tenant, 3, '{"v":3}'));

    const stale = await push(flagsPush(tenant, 2, '{"v":2}'));

    expect(stale.response).toEqual({ held_version: 3, applied: false, key_status_before: 'SERVING' });
    expect((await client.get(tenant, FLAGS))?.value).toBe('{"v":3}');
    caller.close();
  });

  test('a revert restores the previous version, and a late duplicate of the reverted push stays refused', async () => {
    const tenant = uniqueTenant('revert');
    await seed(tenant, FLAGS, '{"v":1}');
    const { client, caller, push } = await startClient(tenant, {
      preload: [{ tenantId: tenant, key: FLAGS }],
    });
    const changes = changesOf(client, FLAGS);
    await push(flagsPush(tenant, 2, '{"v":2}'));

    const revert = await push(flagsPush(tenant, 1, '{"v":1}', { revert_from: 2 }));
    const lateDuplicate = await push(flagsPush(tenant, 2, '{"v":2}'));

    expect(revert.response).toEqual({ held_version: 1, applied: true, key_status_before: 'SERVING' });
    expect(lateDuplicate.response).toEqual({ held_version: 1, applied: false, key_status_before: 'SERVING' });
    expect(await client.get(tenant, FLAGS)).toEqual({ version: 1, value: '{"v":1}', format: 'json' });
    expect(changes.map((change) => [change.cause, change.heldVersion])).toEqual([
      ['push', 2],
      ['rollback', 1],
    ]);
    caller.close();
  });
});

describe('Health', () => {
  test('reports the held versions of the asked keys, and NOT_SERVING when the app says it is unhealthy', async () => {
    const tenant = uniqueTenant('health');
    await seed(tenant, FLAGS, '{}');
    let appHealthy = true;
    const { client, caller, health } = await startClient(tenant, {
      preload: [{ tenantId: tenant, key: FLAGS }],
      health: () => appHealthy,
    });
    const keys = [
      { tenantId: tenant, key: FLAGS },
      { tenantId: tenant, key: ENDPOINT, service: SERVICE },
    ];

    // What the app recorded is answered per key asked about, for the version held; a key not held, or a
    // version no longer held, is not counted.
    expect(client.record(tenant, FLAGS, 'ok')).toBe(true);
    expect(client.record(tenant, FLAGS, 'error', { version: 1 })).toBe(true);
    expect(client.record(tenant, FLAGS, 'error', { version: 7 })).toBe(false);
    expect(client.record(tenant, ENDPOINT, 'error', { service: SERVICE })).toBe(false);
    expect((await health(keys)).response).toEqual({
      status: 'SERVING',
      instance_id: client.instanceId,
      held_versions: [1, 0],
      key_statuses: ['SERVING', 'SERVING'],
      key_outcomes: [
        { version: 1, requests: 2, errors: 1 },
        { version: 0, requests: 0, errors: 0 },
      ],
    });
    appHealthy = false;
    expect((await health(keys)).response).toMatchObject({
      status: 'NOT_SERVING',
      key_statuses: ['NOT_SERVING', 'NOT_SERVING'],
    });
    appHealthy = true;
    client.setHealthy(false);
    expect((await health(keys)).response?.status).toBe('NOT_SERVING');
    client.setHealthy(true);
    expect((await health(keys)).response?.status).toBe('SERVING');
    caller.close();
  });

  test('with a key health hook, a pooled instance judges each tenant’s key on its own', async () => {
    const [sick, well] = [uniqueTenant('sick'), uniqueTenant('well')];
    const { caller, health } = await startClient(sick, {
      tenancy: { kind: 'pool' },
      keyHealth: ({ tenantId }) => tenantId !== sick,
    });
    const outcome = await health([
      { tenantId: sick, key: FLAGS },
      { tenantId: well, key: FLAGS },
    ]);
    expect(outcome.response).toMatchObject({ status: 'SERVING', key_statuses: ['NOT_SERVING', 'SERVING'] });
    caller.close();
  });
});

describe('the version check (safety net for a lost push)', () => {
  test('picks up a newer live version written straight to the store, and keeps a pushed candidate', async () => {
    const tenant = uniqueTenant('net');
    await seed(tenant, FLAGS, '{"v":1}');
    const { client, caller, push } = await startClient(tenant, {
      preload: [{ tenantId: tenant, key: FLAGS }],
      versionCheckIntervalMs: 100,
    });
    const changes = changesOf(client, FLAGS);

    await server.store.put({ tenantId: tenant, key: FLAGS }, '{"v":2}', {
      expectedVersion: 1,
      makeLive: true,
    });
    // The config service may answer from its cache until the entry's TTL has passed; then the check sees v2.
    await eventually(() => changes.length > 0);
    expect(changes[0]).toMatchObject({
      cause: 'version-check',
      heldVersion: 2,
      current: { value: '{"v":2}' },
    });

    const candidate = await server.store.put({ tenantId: tenant, key: FLAGS }, '{"v":3}', {
      expectedVersion: 2,
      makeLive: false,
    });
    await push(flagsPush(tenant, candidate.version, '{"v":3}'));
    await sleep(500);
    expect((await client.get(tenant, FLAGS))?.version).toBe(candidate.version);
    caller.close();
  });

  test('an instance that missed a removal drops the key once the store no longer has it', async () => {
    const tenant = uniqueTenant('net');
    await seed(tenant, FLAGS, '{"v":1}');
    const { client } = await startClient(tenant, {
      preload: [{ tenantId: tenant, key: FLAGS }],
      versionCheckIntervalMs: 100,
    });
    const changes = changesOf(client, FLAGS);
    // The removal's push never reached this instance; the store let the key go.
    await server.store.delete({ tenantId: tenant, key: FLAGS });
    await eventually(() => changes.length > 0);
    expect(changes[0]).toMatchObject({
      cause: 'version-check',
      previous: { version: 1 },
      current: undefined,
    });
    expect(await client.get(tenant, FLAGS)).toBeUndefined();
  });

  test("a new key's candidate, pushed by its first rollout, is kept while nothing of it is live", async () => {
    const tenant = uniqueTenant('net');
    const { client, caller, push } = await startClient(tenant, { versionCheckIntervalMs: 100 });
    const candidate = await server.store.put({ tenantId: tenant, key: FLAGS }, '{"first":true}', {
      expectedVersion: 0,
      makeLive: false,
    });
    await push(flagsPush(tenant, candidate.version, '{"first":true}'));
    // Several checks pass (the config service's read cache lives 1 s) while the key is pending.
    await sleep(1_500);
    expect(await client.get(tenant, FLAGS)).toMatchObject({ version: 1, value: '{"first":true}' });
    caller.close();
  });

  test('a Parameter Store key deleted and created anew (numbered from 1 again) replaces the old higher version', async () => {
    const tenant = uniqueTenant('net');
    const address = { tenantId: tenant, key: ENDPOINT, service: SERVICE };
    await seed(tenant, ENDPOINT, 'https://v1.example', SERVICE);
    for (const version of [2, 3]) {
      await server.store.put(address, `https://v${version}.example`, {
        expectedVersion: version - 1,
        makeLive: true,
      });
    }
    const { client } = await startClient(tenant, { preload: [address], versionCheckIntervalMs: 100 });
    expect((await client.get(tenant, ENDPOINT, SERVICE))?.version).toBe(3);
    const changes = changesOf(client, ENDPOINT);

    // Deleted and created again by hand; both pushes (the removal's and the new key's) were lost.
    await server.store.delete(address);
    await sleep(10);
    await server.store.put(address, 'https://reborn.example', { expectedVersion: 0, makeLive: true });
    await eventually(() => changes.some((change) => change.current?.value === 'https://reborn.example'));
    expect(await client.get(tenant, ENDPOINT, SERVICE)).toMatchObject({
      version: 1,
      value: 'https://reborn.example',
    });
  });
});
