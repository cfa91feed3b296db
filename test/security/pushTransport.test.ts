import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { destroyAwsClients, type AwsClients } from '../../activities/awsClients';
import { createLogger } from '../../common/logger';
import { DEFAULT_PUSH_SETTINGS } from '../../common/rollout';
import { loadRolloutWorkerSettings, type RolloutWorkerSettings } from '../../common/settings';
import { localCa } from '../../scripts/stack/localCa';
import type { RefreshTls } from '../../sdk/refreshServer';
import { createDiscovery, createPusher } from '../../server/rolloutWorker';
import { stackClients, uniqueTenant } from '../support/env';
import { type FleetMember, startInstance } from '../support/fleet';
import { startTestServer, type TestServer } from '../support/server';

/**
 * TLS between the worker and instances, with the local stack's own CA (scripts/stack/localCa.ts): the
 * real SDK instance behind TLS or mutual TLS, registered in Cloud Map, and the worker's own pusher
 * configured as PUSH_TLS_* configure it. Values are sealed and grants signed either way; TLS adds that
 * nobody on the path sees even the sealed pushes, and that a worker talks only to instances with a
 * certificate for their service.
 */
const KEY = 'tenant_config_featureFlags';
const dir = mkdtempSync(path.join(os.tmpdir(), 'push-tls-'));
const ca = localCa(path.join(dir, 'ca'));
const strangerCa = localCa(path.join(dir, 'stranger-ca'));
const logger = createLogger({ component: 'test' }, 'error');

let server: TestServer;
let clients: AwsClients;
const instances: FleetMember[] = [];

beforeAll(async () => {
  server = await startTestServer();
  clients = stackClients();
}, 120_000);

afterAll(async () => {
  await Promise.all(instances.map((instance) => instance.client.stop()));
  destroyAwsClients(clients);
  await server.stop();
});

function file(name: string, content: string): string {
  const written = path.join(dir, name);
  writeFileSync(written, content);
  return written;
}

/** The worker's settings with PUSH_TLS_* as a deployment gives them; `client` adds its certificate. */
function workerSettings(options: { tls: boolean; client?: boolean }): RolloutWorkerSettings {
  const settings = loadRolloutWorkerSettings();
  if (!options.tls) return settings;
  const worker = ca.issue('rollout-worker', ['rollout-worker.internal']);
  return {
    ...settings,
    pushTls: {
      caFile: file('ca.pem', ca.caPem),
      certFile: options.client ? file('worker.pem', worker.certPem) : undefined,
      keyFile: options.client ? file('worker.key', worker.keyPem) : undefined,
      serverNameSuffix: '.cache-refresh',
    },
  };
}

/** A real SDK instance of a service of its own, serving CacheRefresh with `tls`; and a push to it. */
async function instanceWith(tls: (service: string) => RefreshTls) {
  const tenant = uniqueTenant('tls');
  const service = `tls-${randomUUID().slice(0, 6)}`;
  await server.store.put({ tenantId: tenant, key: KEY }, '{"v":1}', { expectedVersion: 0, makeLive: true });
  const member = await startInstance({
    server,
    clients,
    service,
    tenancy: tenant,
    preload: [{ tenantId: tenant, key: KEY }],
    refreshTls: tls(service),
  });
  instances.push(member);
  const push = async (settings: RolloutWorkerSettings, version: number) => {
    const found = await createDiscovery(clients, settings, logger).instancesServing(tenant, [service]);
    const pusher = createPusher(settings, logger);
    try {
      return await pusher.push(
        found,
        { tenantId: tenant, key: KEY, version, value: `{"v":${version}}`, format: 'json', rolloutId: 'tls' },
        { ...DEFAULT_PUSH_SETTINGS, attempts: 1, timeoutMs: 2000 },
      );
    } finally {
      pusher.close();
    }
  };
  return { member, tenant, push };
}

test('over TLS, the worker pushes to an instance whose certificate names its service; a plaintext worker cannot', async () => {
  const { member, tenant, push } = await instanceWith((service) =>
    ca.issue(service, [`${service}.cache-refresh`]),
  );
  const plaintext = await push(workerSettings({ tls: false }), 2);
  expect(plaintext.succeeded).toEqual([]);
  expect(plaintext.failed[0]?.reason).toMatch(/UNAVAILABLE/);

  const overTls = await push(workerSettings({ tls: true }), 2);
  expect(overTls).toEqual({ succeeded: [`${member.service}/${member.client.instanceId}`], failed: [] });
  expect((await member.client.get(tenant, KEY))?.version).toBe(2);
});

test('the worker refuses an instance whose certificate is from another CA, or names another service', async () => {
  const stranger = await instanceWith((service) => strangerCa.issue(service, [`${service}.cache-refresh`]));
  const impostor = await instanceWith(() => ca.issue('billing', ['billing.cache-refresh']));
  for (const { member, tenant, push } of [stranger, impostor]) {
    const outcome = await push(workerSettings({ tls: true }), 2);
    expect(outcome.succeeded).toEqual([]);
    expect(outcome.failed[0]?.reason).toMatch(/UNAVAILABLE/);
    expect((await member.client.get(tenant, KEY))?.version).toBe(1);
  }
});

test('with mutual TLS, an instance accepts only a worker presenting a certificate from the CA', async () => {
  const { member, tenant, push } = await instanceWith((service) => ({
    ...ca.issue(service, [`${service}.cache-refresh`]),
    clientCaPem: ca.caPem,
  }));
  const withoutClientCertificate = await push(workerSettings({ tls: true }), 2);
  expect(withoutClientCertificate.succeeded).toEqual([]);
  expect((await member.client.get(tenant, KEY))?.version).toBe(1);

  const mutual = await push(workerSettings({ tls: true, client: true }), 3);
  expect(mutual.failed).toEqual([]);
  expect((await member.client.get(tenant, KEY))?.version).toBe(3);
});
