/**
 * npm run bench:oob: an out-of-band Parameter Store edit with a per-key all-at-once plan (issue 10).
 *
 * Claim under test: with an all-at-once plan set for the key (REST /v1/rollout-plans), an edit made
 * directly in Parameter Store reaches every instance of the tenant within 1 s of its event reaching the
 * Lambda's handler, about as fast as the same all-at-once rollout started through the REST API (the
 * baseline, measured in the same run, alternating with it).
 *
 * Everything runs on the local stack: the config service with its in-process rollout worker (as the
 * tests run it), real SDK instances (ConfigClient: CacheRefresh server, Cloud Map registration, first
 * load through the config service), the real handler of lambdas/parameterStoreChange.ts called with the
 * event EventBridge would deliver, right after PutParameter answers (the local stand-in polls; AWS's own
 * event delivery is not reproducible here and is not counted in the handler figure).
 *
 * stdout carries exactly one JSON document; progress goes to stderr. Exits non-zero when a run does not
 * reach every instance or its rollout does not succeed.
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { PutParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import type { RolloutResult } from '../common/rollout';
import { rolloutWorkflowId } from '../common/rollout';
import { localStackEnv, stackDown, stackUp } from '../scripts/stack/index';
import type { ConfigClient } from '../sdk/configClient';
import { stackClients } from '../test/support/env';
import { type FleetMember, startInstance } from '../test/support/fleet';
import { startTestServer, type TestServer } from '../test/support/server';
import { validToken } from '../test/support/tokens';
import type { rolloutWorkflow } from '../workflows/rolloutWorkflow';
import { handler } from '../lambdas/parameterStoreChange';
import { errorStack, median, ONE_WAVE_PLAN, round2 } from './common';
import { eventMs, type HistoryEvent } from './historyTimeline';

const INSTANCES = Number(process.env.OOB_INSTANCES ?? 10);
const RUNS = Number(process.env.OOB_RUNS ?? 5);
/** Every figure is about the time until all instances hold the edit; none may take longer than this. */
const REACH_TIMEOUT_MS = 30_000;
const GOAL_HANDLER_MS = 1000;
/** The out-of-band path mirrors the API path once started: it may cost a little more, not much. */
const GOAL_VS_API = 1.2;
const KEY = 'param_config_oobBench';
/** The baseline's key: each path rolls out a key of its own, so neither waits on the other's lock. */
const API_KEY = 'param_config_oobBenchApi';

const log = (line: string) => process.stderr.write(`[bench:oob] ${line}\n`);
/**
 * stdout is the result's alone, but the handler logs there (Powertools) as a Lambda does: every other
 * write to it goes to stderr.
 */
const writeResult = process.stdout.write.bind(process.stdout);
process.stdout.write = process.stderr.write.bind(process.stderr);

/** Each step of a rollout's critical path, from its history's event times: where its time goes. */
interface Step {
  readonly step: string;
  /** When it began, ms after the workflow started. */
  readonly atMs: number;
  readonly tookMs: number;
}

interface Run {
  /** From the handler's invocation to the last instance holding the edit. */
  readonly handlerToAllHeldMs: number;
  /** From PutParameter's call to the last instance holding the edit. */
  readonly putToAllHeldMs: number;
  /** The handler's own time: the event parsed, the parameter and the plans read, the rollout started. */
  readonly handlerMs: number;
  /** From the handler's invocation to the rollout's SUCCEEDED (the promotion waits out read caches). */
  readonly handlerToSucceededMs: number;
  /** The rollout's steps up to the first push's completion. */
  readonly steps: readonly Step[];
}

interface ApiRun {
  /** From the REST call to the last instance holding the new value. */
  readonly requestToAllHeldMs: number;
  readonly requestToSucceededMs: number;
}

interface World {
  readonly server: TestServer;
  readonly fleet: readonly FleetMember[];
  readonly tenantId: string;
  readonly service: string;
  readonly ssm: SSMClient;
}

async function main(): Promise<number> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  Object.assign(process.env, localStackEnv());
  const stack = await stackUp({ tiers: ['infrastructure'] }, (line) => log(`stack: ${line}`));
  const runId = randomUUID().slice(0, 8);
  const tenantId = `oob-bench-${runId}`;
  const service = `oob-bench-${runId}`;
  let server: TestServer | undefined;
  const fleet: FleetMember[] = [];
  try {
    server = await startTestServer({ rollouts: true });
    process.env.TEMPORAL_TASK_QUEUE = server.taskQueue;
    const clients = stackClients();
    const preload = [KEY, API_KEY].map((key) => ({ tenantId, key, service }));
    for (const address of preload) {
      await server.store.put(address, 'v-initial', { expectedVersion: 0, makeLive: true });
    }
    await server.plans.put(tenantId, { selector: KEY }, ONE_WAVE_PLAN, 'bench');
    log(`starting ${INSTANCES} instances of ${service}`);
    for (let i = 0; i < INSTANCES; i += 1) {
      fleet.push(await startInstance({ server, clients, service, tenancy: tenantId, preload }));
    }
    const world: World = { server, fleet, tenantId, service, ssm: clients.ssm };

    // Unreported: the first event pays the handler's cold start (its Temporal connection and clients),
    // the first REST start pays the API's; both are reported apart from the warm runs.
    const cold = await outOfBandRun(world, 'cold');
    const coldApi = await apiRun(world, 'cold');
    const runs: Run[] = [];
    const apiRuns: ApiRun[] = [];
    for (let i = 0; i < RUNS; i += 1) {
      runs.push(await outOfBandRun(world, `run ${i + 1}`));
      apiRuns.push(await apiRun(world, `run ${i + 1}`));
    }

    const handlerP50 = median(runs.map((r) => r.handlerToAllHeldMs));
    const apiP50 = median(apiRuns.map((r) => r.requestToAllHeldMs));
    const document = {
      benchmark: 'out-of-band',
      machine: {
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model ?? 'unknown',
        loadAverage: os.loadavg().map((load) => Math.round(load * 100) / 100),
        node: process.version,
      },
      instances: INSTANCES,
      runs: RUNS,
      plan: ONE_WAVE_PLAN,
      stack: { startedByBench: stack.started, reused: stack.alreadyRunning },
      cold: { outOfBand: cold, api: coldApi },
      outOfBand: runs,
      api: apiRuns,
      p50: {
        handlerToAllHeldMs: handlerP50,
        putToAllHeldMs: median(runs.map((r) => r.putToAllHeldMs)),
        handlerMs: median(runs.map((r) => r.handlerMs)),
        handlerToSucceededMs: median(runs.map((r) => r.handlerToSucceededMs)),
        apiRequestToAllHeldMs: apiP50,
        apiRequestToSucceededMs: median(apiRuns.map((r) => r.requestToSucceededMs)),
      },
      ratios: {
        handlerToAllHeld: {
          value: handlerP50,
          goal: `<= ${GOAL_HANDLER_MS} ms`,
          met: handlerP50 <= GOAL_HANDLER_MS,
          measured: { p50Ms: handlerP50, runsMs: runs.map((r) => r.handlerToAllHeldMs) },
        },
        handlerVsApiPath: {
          value: round2(handlerP50 / apiP50),
          goal: `<= ${GOAL_VS_API}`,
          met: handlerP50 / apiP50 <= GOAL_VS_API,
          measured: { outOfBandP50Ms: handlerP50, apiP50Ms: apiP50 },
        },
      },
    };
    writeResult(`${JSON.stringify(document, null, 2)}\n`);
    return 0;
  } finally {
    await Promise.all(fleet.map((member) => member.client.stop().catch(() => undefined)));
    await server?.stop().catch((error: unknown) => log(`stopping the server failed: ${String(error)}`));
    if (stack.started.length > 0) await stackDown(stack.started, (line) => log(`stack: ${line}`));
  }
}

/** PutParameter, then the event to the handler at once; times until every instance holds the edit. */
async function outOfBandRun(world: World, label: string): Promise<Run> {
  const value = `oob-${randomUUID()}`;
  const name = `/config-service/${world.tenantId}/${world.service}/${KEY}`;
  const held = allHold(world.fleet, world.tenantId, KEY, value);
  const putAt = performance.now();
  await world.ssm.send(
    new PutParameterCommand({ Name: name, Value: value, Type: 'String', Overwrite: true }),
  );
  const invokedAt = performance.now();
  const outcome = await handler(parameterStoreChange(name));
  const handlerMs = performance.now() - invokedAt;
  if (outcome.outcome !== 'started') throw new Error(`${label}: the handler answered ${outcome.outcome}`);
  const heldAt = await held;
  const result = await world.server
    .temporal!.workflow.getHandle<typeof rolloutWorkflow>(outcome.workflowId, outcome.runId)
    .result();
  const succeededAt = performance.now();
  expectSucceeded(result, world.fleet.length, label);
  const run = {
    handlerToAllHeldMs: Math.round(heldAt - invokedAt),
    putToAllHeldMs: Math.round(heldAt - putAt),
    handlerMs: Math.round(handlerMs),
    handlerToSucceededMs: Math.round(succeededAt - invokedAt),
  };
  log(`out-of-band ${label}: ${JSON.stringify(run)}`);
  const history = await world.server
    .temporal!.workflow.getHandle(outcome.workflowId, outcome.runId)
    .fetchHistory();
  return { ...run, steps: stepsUntilPushed(history.events ?? []) };
}

/** The baseline: the same all-at-once rollout started through the REST API. */
async function apiRun(world: World, label: string): Promise<ApiRun> {
  const value = `api-${randomUUID()}`;
  const held = allHold(world.fleet, world.tenantId, API_KEY, value);
  const token = validToken({ tenantId: world.tenantId, groups: ['release-managers'] });
  const requestedAt = performance.now();
  const response = await fetch(`${world.server.httpUrl}/v1/rollouts`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ key: API_KEY, service: world.service, value, plan: ONE_WAVE_PLAN }),
  });
  if (response.status !== 202) throw new Error(`${label}: POST /v1/rollouts answered ${response.status}`);
  const heldAt = await held;
  const workflowId = rolloutWorkflowId({ tenantId: world.tenantId, key: API_KEY, service: world.service });
  const result = await world.server.temporal!.workflow.getHandle<typeof rolloutWorkflow>(workflowId).result();
  const succeededAt = performance.now();
  expectSucceeded(result, world.fleet.length, label);
  const run = {
    requestToAllHeldMs: Math.round(heldAt - requestedAt),
    requestToSucceededMs: Math.round(succeededAt - requestedAt),
  };
  log(`api ${label}: ${JSON.stringify(run)}`);
  return run;
}

/** Resolves with the time the last instance came to hold `value` (by a push: its change listener). */
function allHold(
  fleet: readonly FleetMember[],
  tenantId: string,
  key: string,
  value: string,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const waiting = new Set<ConfigClient>(fleet.map((member) => member.client));
    const unsubscribes: (() => void)[] = [];
    const timer = setTimeout(() => {
      done();
      reject(new Error(`${waiting.size} of ${fleet.length} instances did not get the edit in time`));
    }, REACH_TIMEOUT_MS);
    const done = () => {
      clearTimeout(timer);
      for (const unsubscribe of unsubscribes) unsubscribe();
    };
    for (const member of fleet) {
      unsubscribes.push(
        member.client.onChange(key, (change) => {
          if (change.tenantId !== tenantId || change.current?.value !== value) return;
          waiting.delete(member.client);
          if (waiting.size > 0) return;
          const at = performance.now();
          done();
          resolve(at);
        }),
      );
    }
  });
}

/**
 * Workflow tasks and activities in the order they began, until the first push completed: the part of
 * a rollout every instance waits for.
 */
function stepsUntilPushed(events: readonly HistoryEvent[]): Step[] {
  const startedAt = timeOf(events[0]);
  const began = new Map<string, { step: string; at: number }>();
  const steps: Step[] = [];
  for (const event of events) {
    const id = String(event.eventId);
    const activity = event.activityTaskScheduledEventAttributes?.activityType?.name;
    if (activity) began.set(id, { step: activity, at: timeOf(event) });
    if (event.workflowTaskScheduledEventAttributes)
      began.set(id, { step: 'workflow task', at: timeOf(event) });
    const ended =
      event.activityTaskCompletedEventAttributes?.scheduledEventId ??
      event.workflowTaskCompletedEventAttributes?.scheduledEventId;
    const from = ended === undefined || ended === null ? undefined : began.get(String(ended));
    if (!from) continue;
    steps.push({ step: from.step, atMs: from.at - startedAt, tookMs: timeOf(event) - from.at });
    if (from.step === 'pushToInstances') break;
  }
  return steps;
}

function timeOf(event: HistoryEvent | undefined): number {
  return event ? eventMs(event) : 0;
}

function expectSucceeded(result: RolloutResult, instances: number, label: string): void {
  if (result.state !== 'SUCCEEDED' || result.updatedInstances !== instances) {
    throw new Error(`${label}: the rollout ended ${result.state} on ${result.updatedInstances} instances`);
  }
}

/** The event EventBridge delivers for an edit (the shape of shared/fixtures/ssm-change-update.json). */
function parameterStoreChange(name: string) {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Parameter Store Change',
    source: 'aws.ssm',
    account: '123456789012',
    time: new Date().toISOString(),
    region: 'us-east-1',
    resources: [`arn:aws:ssm:us-east-1:123456789012:parameter${name}`],
    detail: { operation: 'Update', name, type: 'String', description: '' },
  };
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    log(`error: ${errorStack(error)}`);
    process.exit(1);
  },
);
