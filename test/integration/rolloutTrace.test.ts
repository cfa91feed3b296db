import * as grpc from '@grpc/grpc-js';
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { createLogger } from '../../common/logger';
import { loadProto } from '../../common/proto';
import { rolloutWorkflowId } from '../../common/rollout';
import { loadTracingSettings } from '../../common/settings';
import { startTracing, type Tracing } from '../../common/tracing';
import type { ProtoGrpcType } from '../../gen/proto/config';
import { otlpEndpoint } from '../../scripts/stack/index';
import { stackClients, stackStore, uniqueTenant } from '../support/env';
import { type FleetMember, startInstance } from '../support/fleet';
import { base64Forms, headerFieldsIn, payloadsIn } from '../support/historyPayloads';
import { allAtOnce } from '../support/plans';
import { kill } from '../support/processes';
import type { TestServer } from '../support/server';
import { validToken } from '../support/tokens';
import {
  FAST_EXPORT,
  type JaegerSpan,
  type JaegerTrace,
  newTraceparent,
  parentOf,
  rolloutSucceeded,
  searchTraces,
  serviceOf,
  spawnTracedPlatform,
  startRolloutOver,
  tagOf,
  traceWhen,
} from '../support/traces';
import { until } from '../support/until';

/**
 * One rollout, started through the REST API of a config service and run by a rollout worker (each its own
 * process and service.name), pushed to real SDK instances embedded in a service that installed a tracer
 * provider ("orders-traced", this process): its whole trace, read back from the stack's Jaeger.
 */
const KEY = 'tenant_config_traced';
const EMBEDDING_SERVICE = 'orders-traced';
const clients = stackClients();
const store = stackStore(clients);
const instances: FleetMember[] = [];
let platform: Awaited<ReturnType<typeof spawnTracedPlatform>>;
let embedding: Tracing;
let tenant: string;
let service: string;

beforeAll(async () => {
  embedding = startTracing(
    EMBEDDING_SERVICE,
    createLogger({ component: 'test' }, 'error'),
    loadTracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: otlpEndpoint(), ...FAST_EXPORT }),
  );
  platform = await spawnTracedPlatform(`rollouts-${randomUUID()}`);
  tenant = uniqueTenant('trace');
  service = `traced-${randomUUID().slice(0, 6)}`;
  await store.put({ tenantId: tenant, key: KEY }, '{"v":1}', { expectedVersion: 0, makeLive: true });
  const server = { grpcAddress: platform.grpcAddress } as TestServer;
  for (const tenancy of [tenant, tenant, 'pool']) {
    instances.push(
      await startInstance({ server, clients, service, tenancy, preload: [{ tenantId: tenant, key: KEY }] }),
    );
  }
}, 180_000);

afterAll(async () => {
  await Promise.all(instances.map((instance) => instance.client.stop()));
  await Promise.all((platform?.processes ?? []).map((child: ChildProcess) => kill(child)));
  await embedding?.shutdown();
  await store.close();
});

const releaseManager = () => validToken({ tenantId: tenant, groups: ['release-managers'], subject: 'rita' });

const startRollout = (value: string, headers: Record<string, string>, token = releaseManager()) =>
  startRolloutOver(
    platform.httpUrl,
    token,
    { key: KEY, value, targetServices: [service], plan: allAtOnce() },
    headers,
  );
const succeeded = (rolloutId: string) => rolloutSucceeded(platform.httpUrl, releaseManager(), rolloutId);

const named = (trace: JaegerTrace, name: string) => trace.spans.filter((span) => span.operationName === name);
const one = (trace: JaegerTrace, name: string): JaegerSpan => {
  const spans = named(trace, name);
  if (spans.length !== 1) {
    const names = [...new Set(trace.spans.map((span) => span.operationName))].sort().join(', ');
    throw new Error(`${spans.length} spans named ${name}, expected one; the trace has: ${names}`);
  }
  return spans[0]!;
};
const pushSpans = (trace: JaegerTrace) =>
  named(trace, 'configsvc.v1.CacheRefresh/Refresh').filter((span) => tagOf(span, 'span.kind') === 'client');
const applySpans = (trace: JaegerTrace) =>
  named(trace, 'configsvc.v1.CacheRefresh/Refresh').filter((span) => tagOf(span, 'span.kind') === 'server');
/** The rollout has ended (its last activities ran) and every instance's span of the push arrived. */
const wholeRollout = (trace: JaegerTrace) =>
  applySpans(trace).length === instances.length &&
  named(trace, 'RunWorkflow:rolloutWorkflow').length === 1 &&
  named(trace, 'RunActivity:promoteCandidate').length === 1;

test('a rollout started through the REST API is one trace from the API call to every instance that applied it', async () => {
  const caller = newTraceparent();
  const secret = `s3cret-${randomBytes(12).toString('hex')}`;
  const token = releaseManager();
  const started = await startRollout(
    JSON.stringify({ v: 2, apiKey: secret }),
    { traceparent: caller.traceparent },
    token,
  );
  expect(started.status).toBe(202);
  await succeeded(started.body.rolloutId as string);

  const trace = await traceWhen(caller.traceId, wholeRollout, 60);
  const workflowId = rolloutWorkflowId({ tenantId: tenant, key: KEY });

  // The API call: its server span, named by the route's template, is the child of the caller's span.
  const http = one(trace, 'POST /v1/rollouts');
  expect(serviceOf(trace, http)).toBe('config-service');
  expect(parentOf(http)).toBe(caller.spanId);
  expect(tagOf(http, 'http.route')).toBe('/v1/rollouts');
  expect(tagOf(http, 'http.response.status_code')).toBe(202);

  // -> the Temporal client's start -> the workflow, on the worker.
  const start = one(trace, 'StartWorkflow:rolloutWorkflow');
  expect(serviceOf(trace, start)).toBe('config-service');
  expect(parentOf(start)).toBe(http.spanID);
  expect(tagOf(start, 'temporalWorkflowId')).toBe(workflowId);
  const run = one(trace, 'RunWorkflow:rolloutWorkflow');
  expect(serviceOf(trace, run)).toBe('rollout-worker');
  expect(parentOf(run)).toBe(start.spanID);

  // -> each activity: scheduled by the workflow, run by the worker; prepare and write are local activities.
  for (const activity of [
    'prepareRollout',
    'writeCandidate',
    'discoverInstancePage',
    'pushToInstances',
    'checkInstances',
    'promoteCandidate',
    'noticeReadCaches',
  ]) {
    // Discovery runs more than once (before the waves, and the sweep after the promotion).
    const scheduled = named(trace, `StartActivity:${activity}`);
    const ran = named(trace, `RunActivity:${activity}`);
    expect([activity, scheduled.length > 0, ran.length]).toEqual([activity, true, scheduled.length]);
    for (const span of scheduled) expect([activity, parentOf(span)]).toEqual([activity, run.spanID]);
    for (const span of ran) {
      expect([activity, serviceOf(trace, span)]).toEqual([activity, 'rollout-worker']);
      expect(scheduled.map((start) => start.spanID)).toContain(parentOf(span));
    }
  }

  // -> one push per instance, a client span of the push activity, with the service, instance and status.
  const pushActivity = one(trace, 'RunActivity:pushToInstances');
  const pushes = pushSpans(trace);
  const instanceIds = instances.map((instance) => instance.client.instanceId).sort();
  expect(pushes.map((span) => tagOf(span, 'config.instance_id')).sort()).toEqual(instanceIds);
  for (const push of pushes) {
    expect(parentOf(push)).toBe(pushActivity.spanID);
    expect(serviceOf(trace, push)).toBe('rollout-worker');
    expect(tagOf(push, 'config.service')).toBe(service);
    expect(tagOf(push, 'rpc.grpc.status_code')).toBe(0);
    // The workflow's run id: the REST rollout id is `<run id>~<key>`.
    expect(started.body.rolloutId).toBe(`${String(tagOf(push, 'config.rollout_id'))}~${KEY}`);
  }

  // -> one apply per instance, in the embedding service, the child of the push that reached it.
  const applies = applySpans(trace);
  expect(applies).toHaveLength(instances.length);
  for (const apply of applies) {
    expect(serviceOf(trace, apply)).toBe(EMBEDDING_SERVICE);
    const push = pushes.find((candidate) => candidate.spanID === parentOf(apply));
    expect(push).toBeDefined();
    expect(tagOf(apply, 'config.instance_id')).toBe(tagOf(push!, 'config.instance_id'));
    expect(tagOf(apply, 'config.refresh.outcome')).toBe('applied');
  }

  // The promotion's notice reached this config service's read cache, in the same trace.
  const notices = named(trace, 'configsvc.v1.ReadCache/Invalidate').filter(
    (span) => serviceOf(trace, span) === 'config-service',
  );
  expect(notices.length).toBeGreaterThanOrEqual(1);
  expect(notices.map(parentOf)).toContain(one(trace, 'RunActivity:noticeReadCaches').spanID);

  // No span carries the value, the caller's token or a push grant (their header names included).
  const everything = JSON.stringify(trace);
  expect(everything).not.toContain(secret);
  expect(everything).not.toContain(token);
  expect(everything).not.toMatch(/bearer|authorization|x-push-session/i);

  // A route with a parameter is named by its template: the rollout id (which names the key) is no span name.
  const reader = newTraceparent();
  const rolloutId = started.body.rolloutId as string;
  await fetch(`${platform.httpUrl}/v1/rollouts/${encodeURIComponent(rolloutId)}`, {
    headers: { authorization: `Bearer ${token}`, traceparent: reader.traceparent },
  });
  const read = await traceWhen(reader.traceId, (found) => found.spans.length >= 2);
  const get = one(read, 'GET /v1/rollouts/:rolloutId');
  expect(one(read, 'DescribeWorkflow').references[0]?.spanID).toBe(get.spanID);
  expect(JSON.stringify(get)).not.toContain(KEY);

  // The rollout's spans are all in this one trace: the worker opened no other for it.
  const workerTraces = await searchTraces(
    'rollout-worker',
    { 'config.rollout_id': rolloutId.split('~')[0]! },
    'configsvc.v1.CacheRefresh/Refresh',
  );
  expect(workerTraces.map((found) => found.traceID)).toEqual([caller.traceId]);
}, 180_000);

test.each([
  ['an all-zero trace id', `00-${'0'.repeat(32)}-${'ab'.repeat(8)}-01`],
  ['a forbidden version', `ff-${'cd'.repeat(16)}-${'ab'.repeat(8)}-01`],
  ['garbage', 'not-a-traceparent'],
])(
  'a malformed traceparent (%s) is ignored: the API call starts a trace of its own and authorization is unchanged',
  async (_label, traceparent) => {
    const refused = await fetch(`${platform.httpUrl}/v1/rollouts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent },
      body: JSON.stringify({ key: KEY, value: '{}', targetServices: [service], plan: allAtOnce() }),
    });
    expect(refused.status).toBe(401);

    const since = Date.now() * 1000;
    const started = await startRollout(JSON.stringify({ v: randomUUID() }), { traceparent });
    expect(started.status).toBe(202);
    await succeeded(started.body.rolloutId as string);
    const workflowId = rolloutWorkflowId({ tenantId: tenant, key: KEY });
    const http = await until(
      'the API call span of the rollout',
      async () => {
        // Reads of the rollout (its progress query) name the workflow too: only its start is searched for.
        const found = await searchTraces(
          'config-service',
          { temporalWorkflowId: workflowId },
          'StartWorkflow:rolloutWorkflow',
        );
        // Earlier tests' rollouts of the key have traces too: this one's began after `since`.
        return found
          .flatMap((trace) => named(trace, 'POST /v1/rollouts'))
          .find((span) => span.startTime >= since);
      },
      30,
    );
    expect(http.references).toEqual([]);
    expect(traceparent).not.toContain(http.traceID);
  },
  120_000,
);

test("with tracing on, a history's only payloads in the clear are its trace-context headers, which hold the ids alone", async () => {
  const secret = `s3cret-${randomBytes(12).toString('hex')}`;
  const started = await startRollout(JSON.stringify({ v: 3, apiKey: secret }), {});
  expect(started.status).toBe(202);
  const rolloutId = started.body.rolloutId as string;
  await succeeded(rolloutId);
  // Read as Temporal keeps it: a client without the payload codec.
  const connection = await Connection.connect({ address: process.env.TEMPORAL_ADDRESS! });
  try {
    const raw = new Client({ connection, namespace: process.env.TEMPORAL_NAMESPACE ?? 'default' });
    const history = await raw.workflow
      .getHandle(rolloutWorkflowId({ tenantId: tenant, key: KEY }), rolloutId.split('~')[0])
      .fetchHistory();
    // Temporal's TypeScript SDK passes headers past the codec (temporalio/features#331): these are the
    // OpenTelemetry interceptors' context, on the start and on each activity the workflow scheduled.
    const headers = headerFieldsIn(history);
    expect(headers.length).toBeGreaterThan(1);
    for (const [name, payload] of headers) {
      expect(name).toBe('_tracer-data');
      const context = JSON.parse(Buffer.from(payload.data ?? []).toString('utf8')) as Record<string, string>;
      expect(Object.keys(context).filter((field) => field !== 'tracestate')).toEqual(['traceparent']);
      expect(context.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[0-3]$/);
    }
    const inTheClear = new Set(headers.map(([, payload]) => payload));
    const sealed = payloadsIn(history).filter((payload) => !inTheClear.has(payload));
    expect(sealed.length).toBeGreaterThan(5);
    for (const payload of sealed) {
      expect(Buffer.from(payload.metadata?.encoding ?? []).toString()).toBe('binary/encrypted');
    }
    const json = JSON.stringify(temporal.api.history.v1.History.fromObject(history).toJSON());
    for (const form of [secret, ...base64Forms(secret)]) expect(json).not.toContain(form);
  } finally {
    await connection.close();
  }
});

test("a ConfigService call is a server span named by its method, the child of the caller's traceparent, with its status", async () => {
  const { proto } = loadProto<ProtoGrpcType>('config.proto');
  const client = new proto.configsvc.v1.ConfigService(
    platform.grpcAddress,
    grpc.credentials.createInsecure(),
  );
  const call = (token: string | undefined, traceparent: string) =>
    new Promise<number>((resolve) => {
      const metadata = new grpc.Metadata();
      if (token) metadata.set('authorization', `Bearer ${token}`);
      metadata.set('traceparent', traceparent);
      client.GetConfig({ key: KEY }, metadata, (error) => resolve(error ? error.code : grpc.status.OK));
    });
  try {
    const reader = validToken({ tenantId: tenant, groups: ['services'] });
    const read = newTraceparent();
    expect(await call(reader, read.traceparent)).toBe(grpc.status.OK);
    const refused = newTraceparent();
    expect(await call(undefined, refused.traceparent)).toBe(grpc.status.UNAUTHENTICATED);

    const readSpan = one(
      await traceWhen(read.traceId, (found) => found.spans.length > 0),
      'configsvc.v1.ConfigService/GetConfig',
    );
    expect(parentOf(readSpan)).toBe(read.spanId);
    expect(tagOf(readSpan, 'rpc.grpc.status_code')).toBe(grpc.status.OK);
    const refusedTrace = await traceWhen(refused.traceId, (found) => found.spans.length > 0);
    const refusedSpan = one(refusedTrace, 'configsvc.v1.ConfigService/GetConfig');
    expect(serviceOf(refusedTrace, refusedSpan)).toBe('config-service');
    expect(tagOf(refusedSpan, 'rpc.grpc.status_code')).toBe(grpc.status.UNAUTHENTICATED);
    expect(JSON.stringify(refusedTrace)).not.toContain(reader);
  } finally {
    client.close();
  }
});
