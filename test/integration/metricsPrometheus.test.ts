import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { Registry } from 'prom-client';
import { startMetricsServer } from '../../common/metricsEndpoint';
import type { ChildProcess } from 'node:child_process';
import { ServerMetrics } from '../../server/metrics/serverMetrics';
import type { DevTokenRequest } from '../../scripts/stack/localIssuer';
import { stackClients, uniqueTenant } from '../support/env';
import { type FleetMember, registerDeadInstance, startInstance } from '../support/fleet';
import { closedPort } from '../support/ports';
import { kill, spawnSource } from '../support/processes';
import { floodOneIdentity } from '../support/metrics';
import { activeTargets, registerTargets, untilQuery } from '../support/prometheus';
import { callApi } from '../support/restApi';
import { startTestServer, type TestServer } from '../support/server';
import { validToken } from '../support/tokens';
import { until } from '../support/until';

/**
 * The stack's real Prometheus (deploy/prometheus/ as shipped, 1 s scrapes) scraping this test's real
 * config service, a rollout worker process (server/worker.ts: its prom-client registry and the Temporal
 * Runtime's exporter) and SDK instances, plus the stack's Temporal server. A rollout through the API with an approval, a dead
 * instance, a rate-limit flood and a missed push must show in what Prometheus answers.
 */
const KEY = 'tenant_config_promFlags';
const ID = randomUUID().slice(0, 8);
const at = (id: string) => `{test="${ID}"${id ? `, ${id}` : ''}}`;

const serverMetrics = new ServerMetrics();
const clients = stackClients();
const instances: FleetMember[] = [];
const metricsServers: Server[] = [];
let server: TestServer;
let tenant: string;
let service: string;
let deadInstance: { deregister: () => Promise<void> };
let targets: { remove: () => void };
let worker: ChildProcess;

const token = (subject: string, groups: DevTokenRequest['groups'] = ['release-managers']) =>
  validToken({ tenantId: tenant, groups, subject });

async function served(registry: Registry): Promise<string> {
  const metrics = await startMetricsServer(registry, { host: '127.0.0.1', port: 0 });
  metricsServers.push(metrics);
  return `127.0.0.1:${metrics.port}`;
}

beforeAll(async () => {
  server = await startTestServer({
    rollouts: true,
    worker: false,
    metrics: serverMetrics,
    env: { RATE_LIMIT_IDENTITY_PER_SECOND: '10', RATE_LIMIT_IDENTITY_BURST: '20' },
  });
  // A process of its own: the Temporal Runtime (and its exporter) is one per process, made once.
  const [healthPort, runtimePort] = [await closedPort(), await closedPort()];
  worker = spawnSource('server/worker.ts', {
    TEMPORAL_TASK_QUEUE: server.taskQueue!,
    WORKER_HEALTH_PORT: String(healthPort),
    WORKER_RUNTIME_METRICS_PORT: String(runtimePort),
    CONFIG_CACHE_TTL_MS: '1000',
  });
  await until(
    'the worker polls',
    async () => ((await fetch(`http://127.0.0.1:${healthPort}/healthz`)).ok ? true : undefined),
    60,
  );
  tenant = uniqueTenant('prom');
  service = `prom-${ID}`;
  await server.store.put({ tenantId: tenant, key: KEY }, '{"v":1}', { expectedVersion: 0, makeLive: true });
  const sdkTargets: string[] = [];
  for (const [index, tenancy] of [tenant, 'pool'].entries()) {
    const metricsRegistry = new Registry();
    instances.push(
      await startInstance({
        server,
        clients,
        service,
        tenancy,
        zone: `zone-${'ab'[index]}`,
        preload: [{ tenantId: tenant, key: KEY }],
        metricsRegistry,
        // Long enough that a scrape sees the pass that found it behind before the next one clears it.
        versionCheckIntervalMs: 2500,
      }),
    );
    sdkTargets.push(await served(metricsRegistry));
  }
  deadInstance = await registerDeadInstance(clients, service, `dead-${ID}`);
  targets = registerTargets(ID, {
    'config-service': [await served(serverMetrics.registry)],
    'rollout-worker': [`127.0.0.1:${healthPort}`],
    'rollout-worker-runtime': [`127.0.0.1:${runtimePort}`],
    'config-sdk': sdkTargets,
  });
}, 120_000);

afterAll(async () => {
  targets?.remove();
  if (worker) await kill(worker);
  await deadInstance?.deregister();
  await Promise.all(instances.map((instance) => instance.client.stop()));
  metricsServers.forEach((metrics) => metrics.close());
  await server.stop();
});

async function rolloutState(rolloutId: string): Promise<string | undefined> {
  const { body } = await callApi(
    server.httpUrl,
    'GET',
    `/v1/rollouts/${rolloutId}`,
    token('olivia', ['operators']),
  );
  return body.state as string | undefined;
}

test("Prometheus's targets page shows every process of this test, and the stack's Temporal server, up", async () => {
  const ours = await until('every target scraped', async () => {
    const found = (await activeTargets()).filter(
      (target) => target.labels.test === ID || target.labels.job === 'temporal-server',
    );
    return found.length === 6 && found.every((target) => target.health === 'up') ? found : undefined;
  });
  expect(ours.map((target) => target.labels.job).sort()).toEqual([
    'config-sdk',
    'config-sdk',
    'config-service',
    'rollout-worker',
    'rollout-worker-runtime',
    'temporal-server',
  ]);
});

test('a rollout with an approval and a dead instance moves the rollout, push, wave, gate and read metrics', async () => {
  const started = await callApi(server.httpUrl, 'POST', '/v1/rollouts', token('alice'), {
    key: KEY,
    value: '{"v":2}',
    targetServices: [service],
    plan: {
      strategy: { kind: 'explicit', waves: [1, '100%'] },
      bakeSeconds: 0,
      approval: 'after-first-wave',
      maxFailures: 1,
    },
  });
  expect(started.status).toBe(202);
  const rolloutId = started.body.rolloutId as string;
  await until('the rollout awaits approval', async () =>
    (await rolloutState(rolloutId)) === 'AWAITING_APPROVAL' ? true : undefined,
  );
  // Counted in Temporal visibility at scrape time (other tests' rollouts may be counted too).
  await untilQuery(`cfg_rollouts${at('state="AWAITING_APPROVAL"')}`, (value) => value >= 1);

  const approved = await callApi(server.httpUrl, 'POST', `/v1/rollouts/${rolloutId}/approve`, token('bob'), {
    reason: 'first wave fine',
  });
  expect(approved.status).toBe(200);
  await until('the rollout succeeds', async () =>
    (await rolloutState(rolloutId)) === 'SUCCEEDED' ? true : undefined,
  );

  await untilQuery(`sum(cfg_pushes_total${at(`service="${service}", code="OK"`)})`, (v) => v >= 2);
  await untilQuery(`sum(cfg_pushes_total${at(`service="${service}", code="UNAVAILABLE"`)})`, (v) => v >= 1);
  // The shipped recording rule runs on the real series (by service alone: the service is this test's).
  // Its value may still be NaN: rate() sees no increase in a counter's first sample.
  await untilQuery(`count(cfg:push_failure_ratio:rate5m{service="${service}"})`, (v) => v === 1);
  await untilQuery(`sum(cfg_push_duration_seconds_count${at(`service="${service}"`)})`, (v) => v >= 3);
  await untilQuery(`sum(cfg_rollout_waves_total${at('outcome="done"')})`, (v) => v >= 2);
  await untilQuery(`sum(cfg_rollout_gates_total${at('gate="approval", outcome="passed"')})`, (v) => v >= 1);
  await untilQuery(`sum(cfg_rollout_gates_total${at('gate="health", outcome="passed"')})`, (v) => v >= 2);
  await untilQuery(`sum(cfg_rollout_start_to_last_ack_seconds_count${at('')})`, (v) => v >= 1);
  await untilQuery(`sum(cfg_rollouts_finished_total${at('state="SUCCEEDED"')})`, (v) => v >= 1);
  await untilQuery(
    `sum(cfg_sdk_refresh_calls_total${at('method="Refresh", outcome="applied"')})`,
    (v) => v >= 2,
  );
  await untilQuery(
    `sum(cfg_config_reads_total${at('transport="grpc", method="GetConfig", code="OK", backend="dynamodb"')})`,
    (v) => v >= 2,
  );
  // The Temporal SDK's own runtime metrics, from the same exporter.
  await untilQuery(
    `count({__name__=~"temporal_.+", job="rollout-worker-runtime", test="${ID}"})`,
    (v) => v > 0,
  );
});

test('a flood past the identity rate limit shows as refusals of that limit', async () => {
  const refused = await floodOneIdentity(server.httpUrl, `/v1/configs/${KEY}`, token('flood', ['operators']));
  await untilQuery(`sum(cfg_limit_refusals_total${at('limit="identity-rate"')})`, (v) => v === refused);
});

test('a version made live without a push shows both instances behind live', async () => {
  await server.store.put({ tenantId: tenant, key: KEY }, '{"v":9}', { expectedVersion: 2, makeLive: true });
  await untilQuery(`sum(cfg_sdk_version_checks_total${at('result="behind"')})`, (v) => v >= 2);
  // The gauge an alert sums: each instance's last pass found a key behind, until its next pass.
  await untilQuery(`count(max_over_time(cfg_sdk_keys_behind_live${at('')}[1m]) > 0)`, (v) => v === 2);
});
