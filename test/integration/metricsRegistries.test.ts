import * as grpc from '@grpc/grpc-js';
import { randomUUID } from 'node:crypto';
import { Registry } from 'prom-client';
import { loadProto } from '../../common/proto';
import type { ProtoGrpcType } from '../../gen/proto/config';
import type { ConfigServiceClient } from '../../gen/proto/configsvc/v1/ConfigService';
import { ServerMetrics } from '../../server/metrics/serverMetrics';
import { WorkerMetrics } from '../../server/metrics/workerMetrics';
import { stackClients, uniqueTenant } from '../support/env';
import { type FleetMember, startInstance } from '../support/fleet';
import { floodOneIdentity, metricValue } from '../support/metrics';
import { allAtOnce } from '../support/plans';
import { callApi } from '../support/restApi';
import { startTestServer, type TestServer } from '../support/server';
import { validToken } from '../support/tokens';
import type { DevTokenRequest } from '../../scripts/stack/localIssuer';
import { until } from '../support/until';

/**
 * The three registries (config service, worker, SDK) after real work on the local stack: a rollout
 * through the API to real SDK instances, reads on both transports and both backends, a flood past a
 * rate limit, a version check that finds an instance behind. Each counts what it saw, and no scrape
 * carries a config value, a key, a tenant, a rollout or an instance id.
 */
const FLAGS = 'tenant_config_metricsFlags';
const ENDPOINT = 'param_config_metricsEndpoint';
const SECRET = `s3cr3t-${randomUUID()}`;

const serverMetrics = new ServerMetrics();
const workerMetrics = new WorkerMetrics();
const sdkRegistry = new Registry();
let server: TestServer;
let tenant: string;
let service: string;
let grpcClient: ConfigServiceClient;
let rolloutId: string;
const clients = stackClients();
const instances: FleetMember[] = [];

const token = (subject: string, groups: DevTokenRequest['groups'] = ['release-managers']) =>
  validToken({ tenantId: tenant, groups, subject });

beforeAll(async () => {
  server = await startTestServer({
    rollouts: true,
    metrics: serverMetrics,
    pushes: workerMetrics,
    // Low enough for a flood of 60 calls to pass it, high enough for the rest of the test.
    env: { RATE_LIMIT_IDENTITY_PER_SECOND: '10', RATE_LIMIT_IDENTITY_BURST: '20' },
  });
  tenant = uniqueTenant('metrics');
  service = `metrics-${randomUUID().slice(0, 6)}`;
  await server.store.put({ tenantId: tenant, key: FLAGS }, '{"v":1}', { expectedVersion: 0, makeLive: true });
  await server.store.put({ tenantId: tenant, key: ENDPOINT, service }, 'https://one.example', {
    expectedVersion: 0,
    makeLive: true,
  });
  instances.push(
    await startInstance({
      server,
      clients,
      service,
      tenancy: tenant,
      preload: [{ tenantId: tenant, key: FLAGS }],
      metricsRegistry: sdkRegistry,
      versionCheckIntervalMs: 300,
    }),
    await startInstance({
      server,
      clients,
      service,
      tenancy: 'pool',
      preload: [{ tenantId: tenant, key: FLAGS }],
    }),
  );
  const { proto } = loadProto<ProtoGrpcType>('config.proto');
  grpcClient = new proto.configsvc.v1.ConfigService(server.grpcAddress, grpc.credentials.createInsecure());

  const started = await callApi(server.httpUrl, 'POST', '/v1/rollouts', token('alice'), {
    key: FLAGS,
    value: JSON.stringify({ token: SECRET }),
    targetServices: [service],
    plan: allAtOnce(),
  });
  expect(started.status).toBe(202);
  rolloutId = started.body.rolloutId as string;
  await until('the rollout succeeds', async () => {
    const { body } = await callApi(
      server.httpUrl,
      'GET',
      `/v1/rollouts/${rolloutId}`,
      token('olivia', ['operators']),
    );
    return body.state === 'SUCCEEDED' ? true : undefined;
  });
}, 120_000);

afterAll(async () => {
  grpcClient.close();
  await Promise.all(instances.map((instance) => instance.client.stop()));
  await server.stop();
});

function grpcGet(key: string, serviceName = ''): Promise<grpc.ServiceError | null> {
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${token('grpc-reader', ['operators'])}`);
  return new Promise((resolve) =>
    grpcClient.GetConfig({ key, service: serviceName }, metadata, (error) => resolve(error)),
  );
}

test('reads are counted by transport, code and backend, and the read cache by hits and misses', async () => {
  const reader = token('reader', ['operators']);
  for (let i = 0; i < 2; i += 1) {
    expect((await callApi(server.httpUrl, 'GET', `/v1/configs/${FLAGS}`, reader)).status).toBe(200);
    expect(await grpcGet(ENDPOINT, service)).toBeNull();
  }
  expect((await grpcGet('tenant_config_absent'))?.code).toBe(grpc.status.NOT_FOUND);

  const reads = (labels: Record<string, string>) =>
    metricValue(serverMetrics.registry, 'cfg_config_reads_total', labels);
  expect(
    await reads({ transport: 'http', method: 'GetConfig', code: '200', backend: 'dynamodb' }),
  ).toBeGreaterThanOrEqual(2);
  expect(
    await reads({ transport: 'grpc', method: 'GetConfig', code: 'OK', backend: 'parameter_store' }),
  ).toBeGreaterThanOrEqual(2);
  expect(
    await reads({ transport: 'grpc', method: 'GetConfig', code: 'NOT_FOUND', backend: 'dynamodb' }),
  ).toBe(1);
  const lookups = (result: string) =>
    metricValue(serverMetrics.registry, 'cfg_read_cache_lookups_total', { result });
  expect(await lookups('hit')).toBeGreaterThanOrEqual(1);
  expect(await lookups('miss')).toBeGreaterThanOrEqual(1);
  expect(
    await metricValue(serverMetrics.registry, 'cfg_backend_read_duration_seconds', {
      backend: 'parameter_store',
      outcome: 'ok',
    }),
  ).toBeGreaterThan(0);
  expect(await metricValue(serverMetrics.registry, 'cfg_read_cache_bytes')).toBeGreaterThan(0);
});

test('REST requests are counted by route template, never by the path that names a key or a rollout', async () => {
  const requests = (labels: Record<string, string>) =>
    metricValue(serverMetrics.registry, 'cfg_http_requests_total', labels);
  expect(await requests({ method: 'POST', route: '/v1/rollouts', status: '202' })).toBe(1);
  expect(await requests({ method: 'GET', route: '/v1/rollouts/:rolloutId' })).toBeGreaterThanOrEqual(1);
  const text = await serverMetrics.registry.metrics();
  expect(text).not.toContain(`/v1/configs/${FLAGS}`);
});

test('a flood past the identity rate limit is counted as refusals of that limit', async () => {
  const refused = await floodOneIdentity(
    server.httpUrl,
    `/v1/configs/${FLAGS}`,
    token('flood', ['operators']),
  );
  expect(
    await metricValue(serverMetrics.registry, 'cfg_limit_refusals_total', {
      limit: 'identity-rate',
      transport: 'http',
    }),
  ).toBe(refused);
});

test('running rollouts are counted by state from Temporal visibility', async () => {
  await metricValue(serverMetrics.registry, 'cfg_rollouts');
  expect(await metricValue(serverMetrics.registry, 'cfg_rollout_visibility_up')).toBe(1);
  const { values } = await serverMetrics.registry.getSingleMetric('cfg_rollouts')!.get();
  expect(values.map((sample) => sample.labels.state).sort()).toEqual([
    'AWAITING_APPROVAL',
    'BAKING',
    'PAUSED',
    'PREPARING',
    'PROMOTING',
    'ROLLING_BACK',
    'ROLLING_OUT',
  ]);
});

test("the worker counts each instance's push by service and code", async () => {
  expect(
    await metricValue(workerMetrics.registry, 'cfg_pushes_total', { service, code: 'OK' }),
  ).toBeGreaterThanOrEqual(2);
});

test('the SDK counts pushes applied, keys held, and a version check that finds it behind live', async () => {
  expect(
    await metricValue(sdkRegistry, 'cfg_sdk_refresh_calls_total', { method: 'Refresh', outcome: 'applied' }),
  ).toBe(1);
  expect(await metricValue(sdkRegistry, 'cfg_sdk_apply_duration_seconds')).toBeGreaterThan(0);
  expect(await metricValue(sdkRegistry, 'cfg_sdk_held_keys')).toBe(1);
  // A version made live behind the rollouts' back: no push comes, the version check finds it.
  await server.store.put({ tenantId: tenant, key: FLAGS }, '{"v":3}', { expectedVersion: 2, makeLive: true });
  await until('the version check finds the instance behind', async () =>
    (await metricValue(sdkRegistry, 'cfg_sdk_version_checks_total', { result: 'behind' })) > 0
      ? true
      : undefined,
  );
});

test('the API port does not serve the metrics: a tenant who can call the API cannot read them', async () => {
  const answer = await fetch(`${server.httpUrl}/metrics`);
  expect(answer.status).toBe(404);
  expect(await answer.text()).not.toContain('cfg_');
});

test('no scrape carries a config value, a key, a tenant, a rollout id or an instance id', async () => {
  const scraped = [
    await serverMetrics.registry.metrics(),
    await workerMetrics.registry.metrics(),
    await sdkRegistry.metrics(),
  ].join('\n');
  expect(scraped).toContain('cfg_config_reads_total');
  for (const secret of [
    SECRET,
    FLAGS,
    ENDPOINT,
    tenant,
    rolloutId,
    instances[0]!.client.instanceId,
    'one.example',
  ]) {
    expect(scraped).not.toContain(secret);
  }
});
