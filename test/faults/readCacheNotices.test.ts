import { setTimeout as sleep } from 'node:timers/promises';
import { RegisterInstanceCommand } from '@aws-sdk/client-servicediscovery';
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { temporal } from '@temporalio/proto';
import { destroyAwsClients } from '../../activities/awsClients';
import { ensureHttpNamespace } from '../../common/cloudMapSetup';
import { CONFIG_SERVICE_REPLICAS } from '../../common/cloudMap';
import { createLogger } from '../../common/logger';
import type { RolloutRequest } from '../../common/rollout';
import { loadRolloutWorkerSettings } from '../../common/settings';
import { ConfigReaderClient } from '../../sdk/configReaderClient';
import { startRollout } from '../../rolloutClient';
import { createDiscovery, createPusher } from '../../server/rolloutWorker';
import { stackClients, uniqueTenant } from '../support/env';
import { type FleetMember, registerDeadInstance, startInstance } from '../support/fleet';
import { closedPort } from '../support/ports';
import { kill, spawnSource } from '../support/processes';
import { startTestServer, type TestServer } from '../support/server';
import { validToken } from '../support/tokens';
import { allAtOnce } from '../support/plans';

/**
 * A rollout ends once the config service's read caches know of its promotion, on the real stack: real
 * replicas registered in Cloud Map (moto), the worker's real notices, real SDK instances. Where a replica
 * cannot be told (frozen with SIGSTOP, or a registration with nothing listening), the rollout waits the
 * caches out as it did before the notices, and every read after it still gets the new version.
 *
 * The file's replicas live in a Cloud Map namespace of their own: a replica another test file killed
 * and left registered would otherwise make these rollouts wait, as it should.
 */
process.env.CLOUD_MAP_NAMESPACE = `notices-${randomUUID().slice(0, 8)}.local`;
const KEY = 'tenant_config_flags';
const clients = stackClients();
const settings = loadRolloutWorkerSettings();
const logger = createLogger({ component: 'test' }, 'error');
const discovery = createDiscovery(clients, settings, logger);
const pusher = createPusher(settings, logger);
const members: FleetMember[] = [];
const servers: TestServer[] = [];
const children: ChildProcess[] = [];

beforeAll(async () => {
  await ensureHttpNamespace(clients.serviceDiscovery, settings.cloudMapNamespace);
}, 60_000);

afterAll(async () => {
  for (const child of children) child.kill('SIGCONT');
  await Promise.all(children.map((child) => kill(child)));
  await Promise.all(members.map((member) => member.client.stop()));
  for (const server of servers) await server.stop();
  pusher.close();
  destroyAwsClients(clients);
});

/** A config service with an in-process worker whose read cache lives `ttlMs`, and a tenant of its own on version 1. */
async function setUp(ttlMs: number) {
  const server = await startTestServer({ rollouts: true, readCacheTtlMs: ttlMs });
  servers.push(server);
  const tenantId = uniqueTenant('notice');
  const service = `notice-${randomUUID().slice(0, 6)}`;
  await server.store.put({ tenantId, key: KEY }, '{"v":1}', { expectedVersion: 0, makeLive: true });
  for (let i = 0; i < 2; i += 1) {
    members.push(
      await startInstance({ server, clients, service, tenancy: tenantId, preload: [{ tenantId, key: KEY }] }),
    );
  }
  const request: RolloutRequest = {
    tenantId,
    key: KEY,
    change: { kind: 'set', value: '{"v":2}' },
    targetServices: [service],
    plan: allAtOnce({ push: { timeoutMs: 1000, attempts: 2, concurrency: 8 } }),
    actor: 'release-manager@acme',
  };
  const reader = (grpcAddress = server.grpcAddress) =>
    new ConfigReaderClient(grpcAddress, () =>
      Promise.resolve(validToken({ tenantId, groups: ['services'] })),
    );
  const run = async () => {
    const handle = await startRollout(server.temporal!, request, server.taskQueue);
    const result = await handle.result();
    return { result, history: await handle.fetchHistory() };
  };
  return { server, tenantId, service, reader, run };
}

/** The durable timers a rollout started, in milliseconds. */
function timers(history: temporal.api.history.v1.IHistory): number[] {
  return (history.events ?? []).flatMap((event) => {
    const timeout = event.timerStartedEventAttributes?.startToFireTimeout;
    return timeout ? [Number(timeout.seconds ?? 0) * 1000 + Math.round((timeout.nanos ?? 0) / 1e6)] : [];
  });
}

/** Every instance of the service holds `version`, by its own Health answer; the store's live is it too. */
async function expectEverywhere(setup: Awaited<ReturnType<typeof setUp>>, version: number) {
  const instances = await discovery.instancesServing(setup.tenantId, [setup.service]);
  expect(instances).toHaveLength(2);
  const health = await pusher.check(instances, { tenantId: setup.tenantId, key: KEY }, version, {
    timeoutMs: 2000,
    attempts: 3,
    concurrency: 8,
  });
  expect(health.failed).toEqual([]);
  expect((await setup.server.store.getLive({ tenantId: setup.tenantId, key: KEY })).version).toBe(version);
}

test('with a 30 s read cache, a rollout ends without waiting it out, and a read cached before it is not served after', async () => {
  const setup = await setUp(30_000);
  const reader = setup.reader();
  try {
    // Cached now, for 30 s.
    expect((await reader.getLive({ tenantId: setup.tenantId, key: KEY }))?.version).toBe(1);
    const { result, history } = await setup.run();
    expect(result.state).toBe('SUCCEEDED');
    expect((await reader.getLive({ tenantId: setup.tenantId, key: KEY }))?.version).toBe(2);
    // No wait for the caches: the history has no timer at all (a 0 s bake starts none either).
    expect(timers(history)).toEqual([]);
    await expectEverywhere(setup, 2);
  } finally {
    reader.close();
  }
}, 40_000);

test('an instance that read the old version before it registered reads again once registered: a sweep that missed it costs nothing', async () => {
  const setup = await setUp(30_000);
  const address = { tenantId: setup.tenantId, key: KEY };
  // The promotion (and its notice) lands between the instance's first read and its registration: the
  // rollout's sweep could not have found it, and its read was the old version.
  const discoveryClient = Object.create(clients.serviceDiscovery) as typeof clients.serviceDiscovery;
  let promoted = false;
  discoveryClient.send = (async (command: unknown) => {
    if (command instanceof RegisterInstanceCommand && !promoted) {
      promoted = true;
      const candidate = await setup.server.store.put(address, '{"v":2}', {
        expectedVersion: 1,
        makeLive: false,
      });
      await setup.server.store.promote(address, candidate.version);
      setup.server.reader.invalidate(address);
    }
    return (clients.serviceDiscovery.send as (c: unknown) => Promise<unknown>)(command);
  }) as typeof discoveryClient.send;
  const late = await startInstance({
    server: setup.server,
    clients: { ...clients, serviceDiscovery: discoveryClient },
    service: setup.service,
    tenancy: setup.tenantId,
    preload: [address],
  });
  members.push(late);
  expect(promoted).toBe(true);
  expect((await late.client.get(setup.tenantId, KEY))?.version).toBe(2);
});

describe('a replica that cannot be told makes the rollout wait the caches out, as before', () => {
  const TTL_MS = 3000;

  test('a config service frozen with SIGSTOP: the rollout waits the TTL, and the frozen one serves the new version once thawed', async () => {
    const setup = await setUp(TTL_MS);
    const [httpPort, grpcPort, noticePort] = await distinctPorts(3);
    const frozen = spawnSource('server/main.ts', {
      HTTP_PORT: String(httpPort),
      GRPC_PORT: String(grpcPort),
      READ_CACHE_NOTICE_PORT: String(noticePort),
      BIND_ADDRESS: '127.0.0.1',
      CONFIG_CACHE_TTL_MS: String(TTL_MS),
      CLOUD_MAP_NAMESPACE: settings.cloudMapNamespace,
    });
    children.push(frozen);
    await untilRegistered(`replica-127.0.0.1-${noticePort}`);
    const reader = setup.reader(`127.0.0.1:${grpcPort}`);
    try {
      expect((await reader.getLive({ tenantId: setup.tenantId, key: KEY }))?.version).toBe(1);
      frozen.kill('SIGSTOP');
      const { result, history } = await setup.run();
      expect(result.state).toBe('SUCCEEDED');
      expect(timers(history)).toEqual([TTL_MS + 1000]);
      frozen.kill('SIGCONT');
      // The rollout outlasted what the frozen replica had cached.
      expect((await reader.getLive({ tenantId: setup.tenantId, key: KEY }))?.version).toBe(2);
      await expectEverywhere(setup, 2);
    } finally {
      reader.close();
      frozen.kill('SIGCONT');
      frozen.kill('SIGTERM');
    }
  }, 40_000);

  test('a replica registered at an address with nothing listening: the rollout waits the TTL', async () => {
    const setup = await setUp(TTL_MS);
    const instanceId = `replica-gone-${randomUUID().slice(0, 8)}`;
    // A replica's valid grant at a closed port: what is tried is a crashed replica, not a forged one.
    const dead = await registerDeadInstance(clients, CONFIG_SERVICE_REPLICAS, instanceId);
    try {
      await untilRegistered(instanceId);
      const { result, history } = await setup.run();
      expect(result.state).toBe('SUCCEEDED');
      expect(timers(history)).toEqual([TTL_MS + 1000]);
      await expectEverywhere(setup, 2);
    } finally {
      await dead.deregister();
    }
  }, 40_000);
});

/** Free loopback ports, no two the same (a port closed again may be handed out twice). */
async function distinctPorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await closedPort());
  return [...ports];
}

/** Waits until the worker's discovery admits the replica `instanceId`. */
async function untilRegistered(instanceId: string): Promise<void> {
  for (let i = 0; i < 300; i += 1) {
    const { admitted } = await discovery.registrationsOf(CONFIG_SERVICE_REPLICAS);
    if (admitted.some((replica) => replica.instanceId === instanceId)) return;
    await sleep(100);
  }
  throw new Error(`replica ${instanceId} never registered`);
}
