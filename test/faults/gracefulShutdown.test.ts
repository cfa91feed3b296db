import { setTimeout as sleep } from 'node:timers/promises';
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { temporal as proto } from '@temporalio/proto';
import { destroyAwsClients } from '../../activities/awsClients';
import type { Rollout } from '../../common/api/rollouts';
import type { RolloutWorker } from '../../server/rolloutWorker';
import { stackClients, uniqueTenant } from '../support/env';
import { type FleetMember, startInstance } from '../support/fleet';
import { closedPort } from '../support/ports';
import { callApi } from '../support/restApi';
import { startTestServer, startTestWorker, type TestServer } from '../support/server';
import { spawnSource } from '../support/processes';
import { validToken } from '../support/tokens';
import { until } from '../support/until';

/**
 * SIGTERM, as a deploy or a scale-in sends it, to a real worker process mid-wave and to a real config
 * service process with a progress stream open. Both must drain and exit 0 within their bound, and the
 * rollout must end as it would have once a worker is back.
 */
const KEY = 'tenant_config_featureFlags';
/** Generous: the worker's own bound is 25 s, the config service's 10 s. */
const EXIT_BOUND_MS = 30_000;
/** One instance's health answer while the worker drains: longer than the worker's 10 s grace. */
const SLOW_HEALTH_MS = 15_000;
const clients = stackClients();
const instances: FleetMember[] = [];
const processes: ChildProcess[] = [];
let server: TestServer;
let worker: RolloutWorker | undefined;

beforeAll(async () => {
  server = await startTestServer({ rollouts: true, worker: false });
}, 120_000);

afterAll(async () => {
  for (const child of processes) if (child.exitCode === null) child.kill('SIGKILL');
  await worker?.shutdown();
  await Promise.all(instances.map((instance) => instance.client.stop()));
  await server.stop();
  destroyAwsClients(clients);
});

function spawnProcess(entry: string, env: Record<string, string>): ChildProcess {
  const child = spawnSource(entry, { TEMPORAL_TASK_QUEUE: server.taskQueue!, ...env });
  processes.push(child);
  return child;
}

function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: string | null }> {
  if (child.exitCode !== null) return Promise.resolve({ code: child.exitCode, signal: null });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

async function fleetOf(
  tenant: string,
  size: number,
  health?: () => Promise<boolean>,
): Promise<FleetMember[]> {
  const service = `orders-${randomUUID().slice(0, 6)}`;
  await server.store.put({ tenantId: tenant, key: KEY }, '{"v":1}', { expectedVersion: 0, makeLive: true });
  // One after another: the first registration creates the Cloud Map service the others join.
  const members: FleetMember[] = [];
  for (let n = 0; n < size; n += 1) {
    members.push(
      await startInstance({
        server,
        clients,
        service,
        tenancy: tenant,
        preload: [{ tenantId: tenant, key: KEY }],
        ...(health ? { health } : {}),
      }),
    );
  }
  instances.push(...members);
  return members;
}

function startBody(service: string, bakeSeconds: number): object {
  return {
    key: KEY,
    value: '{"v":2}',
    targetServices: [service],
    plan: {
      strategy: { kind: 'explicit', waves: ['100%'] },
      bakeSeconds,
      approval: 'none',
      push: { timeoutMs: 30_000, attempts: 1, concurrency: 1 },
    },
  };
}

async function stateOf(url: string, token: string, id: string, wanted: string): Promise<Rollout | undefined> {
  const read = await callApi(url, 'GET', `/v1/rollouts/${id}`, token);
  return read.body.state === wanted ? (read.body as unknown as Rollout) : undefined;
}

test('SIGTERM to a worker mid-wave drains it within its bound and exits 0; a worker back finishes the rollout, written once', async () => {
  const tenant = uniqueTenant('drain');
  let healthAsked: () => void = () => undefined;
  let slow = true;
  // The wave's health gate asks three instances one after another, each slower than the worker's grace:
  // the whole gate would hold the worker 45 s; the drain stops it after the call under way.
  const fleet = await fleetOf(tenant, 3, async () => {
    healthAsked();
    if (slow) await sleep(SLOW_HEALTH_MS);
    return true;
  });
  const workerProcess = spawnProcess('server/worker.ts', { WORKER_HEALTH_PORT: '0' });
  const token = validToken({ tenantId: tenant, groups: ['release-managers'], subject: 'alice' });
  const started = await callApi(
    server.httpUrl,
    'POST',
    '/v1/rollouts',
    token,
    startBody(fleet[0]!.service, 0),
  );
  expect(started.status).toBe(202);
  const rolloutId = started.body.rolloutId as string;
  // Only the rollout's own health gate counts, not whatever asked before it started.
  await new Promise<void>((resolve) => (healthAsked = resolve));
  workerProcess.kill('SIGTERM');
  const signalledAt = Date.now();
  expect(await exitOf(workerProcess)).toEqual({ code: 0, signal: null });
  expect(Date.now() - signalledAt).toBeLessThan(EXIT_BOUND_MS);
  slow = false;

  worker = await startTestWorker(server.taskQueue!, clients);
  const done = await until('the rollout to succeed', () =>
    stateOf(server.httpUrl, token, rolloutId, 'SUCCEEDED'),
  );
  expect(done.instances).toEqual({ total: 3, updated: 3, failed: 0, pending: 0, reverted: 0 });
  for (const member of fleet) expect((await member.client.get(tenant, KEY))?.version).toBe(2);
  expect(await server.store.getLive({ tenantId: tenant, key: KEY })).toMatchObject({
    version: 2,
    value: '{"v":2}',
  });
  expect(
    (await server.store.history({ tenantId: tenant, key: KEY })).map((entry) => entry.version).sort(),
  ).toEqual([1, 2]);
  // Drained, not abandoned: no activity was left to time out on a heartbeat nobody sent.
  const history = await server.temporal!.workflow.getHandle(done.workflowId).fetchHistory();
  const Type = proto.api.enums.v1.EventType;
  const kinds = new Set((history.events ?? []).map((event) => event.eventType));
  expect(kinds.has(Type.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT)).toBe(false);
}, 90_000);

test('SIGTERM to a config service ends an open progress stream with a shutdown event and a retry hint, and exits 0', async () => {
  const tenant = uniqueTenant('goaway');
  const [member] = await fleetOf(tenant, 1);
  worker ??= await startTestWorker(server.taskQueue!, clients);
  const [httpPort, grpcPort] = [await closedPort(), await closedPort()];
  const service = spawnProcess('server/main.ts', {
    HTTP_PORT: String(httpPort),
    GRPC_PORT: String(grpcPort),
  });
  const url = `http://127.0.0.1:${httpPort}`;
  await until('the config service', async () => ((await fetch(`${url}/healthz`)).ok ? true : undefined));
  const token = validToken({ tenantId: tenant, groups: ['release-managers'], subject: 'alice' });
  const started = await callApi(url, 'POST', '/v1/rollouts', token, startBody(member!.service, 600));
  expect(started.status).toBe(202);
  const rolloutId = started.body.rolloutId as string;
  await until('the rollout to bake', () => stateOf(url, token, rolloutId, 'BAKING'));

  const stream = await fetch(`${url}/v1/rollouts/${rolloutId}/events`, {
    headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
  });
  expect(stream.status).toBe(200);
  const reader = stream.body!.getReader();
  let text = '';
  const read = async () => {
    const chunk = await reader.read();
    if (chunk.value) text += Buffer.from(chunk.value).toString();
    return chunk.done;
  };
  while (!text.includes('event: progress')) await read();

  service.kill('SIGTERM');
  const signalledAt = Date.now();
  while (!(await read()));
  expect(await exitOf(service)).toEqual({ code: 0, signal: null });
  expect(Date.now() - signalledAt).toBeLessThan(EXIT_BOUND_MS);
  const events = text.trim().split('\n\n');
  expect(events.at(-1)).toMatch(
    /^retry: 2000\nevent: shutdown\ndata: \{"detail":"the server is shutting down/,
  );

  // The rollout did not notice: still baking, and it ends as asked through another server.
  expect(await stateOf(server.httpUrl, token, rolloutId, 'BAKING')).toBeDefined();
  const aborted = await callApi(server.httpUrl, 'POST', `/v1/rollouts/${rolloutId}/abort`, token, {});
  expect(aborted.status).toBe(200);
  await until('the rollback', () => stateOf(server.httpUrl, token, rolloutId, 'ROLLED_BACK'));
  expect((await member!.client.get(tenant, KEY))?.version).toBe(1);
  expect(await server.store.getLive({ tenantId: tenant, key: KEY })).toMatchObject({ version: 1 });
}, 90_000);
