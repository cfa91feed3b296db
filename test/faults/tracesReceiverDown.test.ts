import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { repoRoot, toolPath } from '../../scripts/stack/index';
import { stackClients, stackStore, uniqueTenant } from '../support/env';
import { type FleetMember, startInstance } from '../support/fleet';
import { allAtOnce } from '../support/plans';
import { closedPort } from '../support/ports';
import { kill } from '../support/processes';
import type { TestServer } from '../support/server';
import { validToken } from '../support/tokens';
import {
  fetchTrace,
  newTraceparent,
  rolloutSucceeded,
  spawnTracedConfigService,
  spawnTracedPlatform,
  startRolloutOver,
} from '../support/traces';
import { until } from '../support/until';

/**
 * The trace receiver is not the platform's business: with it hanging (SIGSTOP: connections accepted,
 * never answered) or gone (SIGKILL), rollouts go on as fast as with it up, and a process still shuts down
 * within its bound. A Jaeger of this test's own, on its own ports, so the stack's is never stopped.
 */
const KEY = 'tenant_config_receiverDown';
/** What a rollout of two instances may take here; with the receiver up they took 3-7 s. */
const PROMPT_MS = 15_000;
const clients = stackClients();
const store = stackStore(clients);
const instances: FleetMember[] = [];
let jaeger: ChildProcess;
let queryUrl: string;
let platform: { httpUrl: string; processes: ChildProcess[] };
const queue = `rollouts-${randomUUID()}`;
let otlpUrl: string;
// Small bounds, so the test reaches them: a queue of 64 spans, a second per export.
const BOUNDS = { OTEL_BSP_MAX_QUEUE_SIZE: '64', OTEL_EXPORTER_OTLP_TIMEOUT: '1000' };
let tenant: string;
let service: string;

beforeAll(async () => {
  const ports = {
    OTLP_GRPC_PORT: String(await closedPort()),
    OTLP_HTTP_PORT: String(await closedPort()),
    JAEGER_UI_PORT: String(await closedPort()),
    JAEGER_QUERY_GRPC_PORT: String(await closedPort()),
  };
  jaeger = spawn(toolPath('jaeger'), ['--config', path.join(repoRoot, 'scripts', 'stack', 'jaeger.yaml')], {
    env: { ...process.env, ...ports },
    stdio: 'ignore',
  });
  queryUrl = `http://127.0.0.1:${ports.JAEGER_UI_PORT}`;
  await until('the test Jaeger answers', async () =>
    (await fetch(`${queryUrl}/api/services`)).ok ? true : undefined,
  );
  otlpUrl = `http://127.0.0.1:${ports.OTLP_HTTP_PORT}`;
  const spawned = await spawnTracedPlatform(queue, otlpUrl, BOUNDS);
  platform = spawned;
  tenant = uniqueTenant('otlpdown');
  service = `otlpdown-${randomUUID().slice(0, 6)}`;
  await store.put({ tenantId: tenant, key: KEY }, '{"v":0}', { expectedVersion: 0, makeLive: true });
  const server = { grpcAddress: spawned.grpcAddress } as TestServer;
  for (const tenancy of [tenant, 'pool']) {
    instances.push(
      await startInstance({ server, clients, service, tenancy, preload: [{ tenantId: tenant, key: KEY }] }),
    );
  }
}, 180_000);

afterAll(async () => {
  await Promise.all(instances.map((instance) => instance.client.stop()));
  await Promise.all((platform?.processes ?? []).map((child) => kill(child)));
  if (jaeger) {
    jaeger.kill('SIGCONT');
    await kill(jaeger);
  }
  await store.close();
});

const token = () => validToken({ tenantId: tenant, groups: ['release-managers'], subject: 'rita' });

/** One rollout through the REST API, to the end; answers how long it took and its caller's trace id. */
async function rollOut(): Promise<{ ms: number; traceId: string }> {
  const caller = newTraceparent();
  const began = Date.now();
  const started = await startRolloutOver(
    platform.httpUrl,
    token(),
    { key: KEY, value: JSON.stringify({ v: randomUUID() }), targetServices: [service], plan: allAtOnce() },
    { traceparent: caller.traceparent },
  );
  expect(started.status).toBe(202);
  await rolloutSucceeded(platform.httpUrl, token(), started.body.rolloutId as string, 60);
  return { ms: Date.now() - began, traceId: caller.traceId };
}

test('with the receiver up, a rollout reaches it (so the faults below cut a working link)', async () => {
  const { traceId } = await rollOut();
  await until('the trace at the receiver', async () => fetchTrace(traceId, queryUrl));
}, 90_000);

test('with the receiver hanging (SIGSTOP), rollouts still succeed promptly and the config service stops within its bound', async () => {
  jaeger.kill('SIGSTOP');
  for (let i = 0; i < 3; i += 1) {
    const { ms } = await rollOut();
    expect(ms).toBeLessThan(PROMPT_MS);
  }
  expect(platform.processes.every((child) => child.exitCode === null)).toBe(true);

  // Its last spans cannot be delivered: the flush on shutdown gives up after the export timeout.
  const configService = platform.processes[0]!;
  const exited = new Promise((resolve) => configService.once('exit', resolve));
  const stopping = Date.now();
  configService.kill('SIGTERM');
  await exited;
  // The gRPC server's own grace (5 s) plus one export timeout (1 s), with room for a busy machine.
  expect(Date.now() - stopping).toBeLessThan(9000);
}, 120_000);

test('with the receiver gone (SIGKILL), rollouts still succeed promptly', async () => {
  await kill(jaeger);
  const replacement = await spawnTracedConfigService(queue, otlpUrl, BOUNDS);
  platform = { ...replacement, processes: [replacement.process, ...platform.processes.slice(1)] };
  for (let i = 0; i < 2; i += 1) {
    const { ms } = await rollOut();
    expect(ms).toBeLessThan(PROMPT_MS);
  }
}, 120_000);
