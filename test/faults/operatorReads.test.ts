import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { destroyAwsClients } from '../../activities/awsClients';
import type { Rollout } from '../../common/api/rollouts';
import type { RolloutWorker } from '../../server/rolloutWorker';
import { runCfgctl } from '../support/cli';
import { stackClients, uniqueTenant } from '../support/env';
import { type FleetMember, startInstance } from '../support/fleet';
import { closedPort } from '../support/ports';
import { callApi } from '../support/restApi';
import { startTestServer, startTestWorker, type TestServer } from '../support/server';
import { spawnSource } from '../support/processes';
import { validToken } from '../support/tokens';
import { until } from '../support/until';

/**
 * Operators' reads of rollouts when the worker, or Temporal itself, is away. Tried by hand on main: with
 * the worker down, `GET /v1/rollouts/{id}` of a running and of a long-finished rollout took 17 s, and
 * `cfgctl rollout status` exited 7 saying the API could not be reached; with Temporal down nothing
 * answered within 20 s. The bounds below are generous: a correct system answers within about 2 s.
 */
const PROMPT_MS = 5_000;
const clients = stackClients();
const instances: FleetMember[] = [];
let server: TestServer;
let worker: RolloutWorker | undefined;
let service: ChildProcess | undefined;

beforeAll(async () => {
  server = await startTestServer({ rollouts: true, worker: false });
  worker = await startTestWorker(server.taskQueue!, clients);
}, 120_000);

afterAll(async () => {
  service?.kill('SIGKILL');
  await worker?.shutdown();
  await Promise.all(instances.map((instance) => instance.client.stop()));
  await server.stop();
  destroyAwsClients(clients);
});

async function timed<T>(call: () => Promise<T>): Promise<{ answer: T; ms: number }> {
  const started = Date.now();
  const answer = await call();
  return { answer, ms: Date.now() - started };
}

async function startRolloutOf(
  token: string,
  key: string,
  target: string,
  bakeSeconds: number,
): Promise<string> {
  const started = await callApi(server.httpUrl, 'POST', '/v1/rollouts', token, {
    key,
    value: '{"v":2}',
    targetServices: [target],
    plan: { strategy: { kind: 'explicit', waves: ['100%'] }, bakeSeconds, approval: 'none' },
  });
  expect(started.status).toBe(202);
  return started.body.rolloutId as string;
}

async function stateOf(token: string, rolloutId: string, wanted: string): Promise<Rollout | undefined> {
  const read = await callApi(server.httpUrl, 'GET', `/v1/rollouts/${rolloutId}`, token);
  return read.body.state === wanted ? (read.body as unknown as Rollout) : undefined;
}

test('with the worker stopped, a running and a finished rollout answer promptly from what they published', async () => {
  const tenant = uniqueTenant('reads');
  const target = `orders-${randomUUID().slice(0, 6)}`;
  const [runningKey, finishedKey] = ['tenant_config_featureFlags', 'tenant_config_paymentPrefs'];
  for (const key of [runningKey, finishedKey]) {
    await server.store.put({ tenantId: tenant, key }, '{"v":1}', { expectedVersion: 0, makeLive: true });
  }
  instances.push(
    await startInstance({
      server,
      clients,
      service: target,
      tenancy: tenant,
      preload: [runningKey, finishedKey].map((key) => ({ tenantId: tenant, key })),
    }),
  );
  const token = validToken({ tenantId: tenant, groups: ['release-managers'], subject: 'alice' });
  const finishedId = await startRolloutOf(token, finishedKey, target, 0);
  const finishedLive = await until('the first rollout to succeed', () =>
    stateOf(token, finishedId, 'SUCCEEDED'),
  );
  const runningId = await startRolloutOf(token, runningKey, target, 600);
  const baking = await until('the second rollout to bake', () => stateOf(token, runningId, 'BAKING'));
  expect(baking.staleSince).toBeUndefined();
  // What it publishes is sealed like its history: Temporal holds the memo encrypted.
  const raw = await server.temporal!.workflowService.describeWorkflowExecution({
    namespace: server.temporal!.options.namespace,
    execution: { workflowId: baking.workflowId },
  });
  const memo = raw.workflowExecutionInfo?.memo?.fields?.progress;
  expect(Buffer.from(memo?.metadata?.encoding ?? []).toString()).toBe('binary/encrypted');

  await worker!.shutdown();
  worker = undefined;

  const running = await timed(() => callApi(server.httpUrl, 'GET', `/v1/rollouts/${runningId}`, token));
  expect(running.answer.status).toBe(200);
  expect(running.ms).toBeLessThan(PROMPT_MS);
  const runningView = running.answer.body as unknown as Rollout;
  expect(runningView).toMatchObject({
    state: 'BAKING',
    candidateVersion: 2,
    previousVersion: 1,
    instances: { total: 1, updated: 1, failed: 0, pending: 0 },
    waves: [{ index: 0, state: 'baking', updated: 1 }],
    audit: [{ actor: 'alice', action: 'start' }],
  });
  // The time it was published: at or before the read, not the read's own time.
  expect(Date.parse(runningView.staleSince!)).toBeLessThanOrEqual(Date.now());
  expect(Date.parse(runningView.staleSince!)).toBeGreaterThan(Date.now() - 120_000);

  // A finished rollout's final progress is not stale: nothing will change it.
  const finished = await timed(() => callApi(server.httpUrl, 'GET', `/v1/rollouts/${finishedId}`, token));
  expect(finished.answer.status).toBe(200);
  expect(finished.ms).toBeLessThan(PROMPT_MS);
  expect(finished.answer.body).toEqual(finishedLive);
  expect(finished.answer.body.outcome).toBe('version 2 is live on 1 of 1 instances');

  const status = await timed(() => runCfgctl(server.httpUrl, ['rollout', 'status', runningId], token));
  expect(status.ms).toBeLessThan(PROMPT_MS + 3_000);
  expect(status.answer.code).toBe(0);
  expect(status.answer.stdout).toContain('state BAKING');
  expect(status.answer.stdout).toContain(`stale since ${runningView.staleSince}`);
  expect(status.answer.stderr).toBe('');

  // A worker back: the rollout answers live again, and goes on to its end when told to.
  worker = await startTestWorker(server.taskQueue!, clients);
  await until('a fresh answer', async () => {
    const view = await stateOf(token, runningId, 'BAKING');
    return view && view.staleSince === undefined ? view : undefined;
  });
  const aborted = await callApi(server.httpUrl, 'POST', `/v1/rollouts/${runningId}/abort`, token, {});
  expect(aborted.status).toBe(200);
  const rolledBack = await until('the rollback', () => stateOf(token, runningId, 'ROLLED_BACK'));
  expect(rolledBack.staleSince).toBeUndefined();
  expect((await instances[0]!.client.get(tenant, runningKey))?.version).toBe(1);
  expect((await instances[0]!.client.get(tenant, finishedKey))?.version).toBe(2);
  expect(await server.store.getLive({ tenantId: tenant, key: runningKey })).toMatchObject({ version: 1 });
}, 120_000);

test('with Temporal down, rollout reads answer a prompt 503 naming Temporal, and cfgctl exits 7 saying so', async () => {
  // A config service process of its own, whose Temporal is nowhere: the shared one stays up.
  const [httpPort, grpcPort, temporalPort] = [await closedPort(), await closedPort(), await closedPort()];
  service = spawnSource('server/main.ts', {
    HTTP_PORT: String(httpPort),
    GRPC_PORT: String(grpcPort),
    TEMPORAL_ADDRESS: `127.0.0.1:${temporalPort}`,
  });
  const url = `http://127.0.0.1:${httpPort}`;
  await until('the config service', async () => ((await fetch(`${url}/healthz`)).ok ? true : undefined));
  const token = validToken({ tenantId: uniqueTenant('down'), groups: ['operators'], subject: 'olga' });
  const rolloutId = `${randomUUID()}~tenant_config_featureFlags`;

  for (const path of [`/v1/rollouts/${rolloutId}`, '/v1/rollouts']) {
    const read = await timed(() => callApi(url, 'GET', path, token));
    expect(read.ms).toBeLessThan(PROMPT_MS + 3_000);
    expect(read.answer.status).toBe(503);
    expect(read.answer.body).toMatchObject({ title: 'BackendUnavailable' });
    expect(read.answer.body.detail).toMatch(/^Temporal, which rollouts run on, does not answer/);
  }

  const status = await runCfgctl(url, ['rollout', 'status', rolloutId], token);
  expect(status.code).toBe(7);
  expect(status.stderr).toMatch(
    /^error: BackendUnavailable: Temporal, which rollouts run on, does not answer/,
  );
  expect(status.stderr).not.toContain('cannot reach the API');
}, 90_000);
