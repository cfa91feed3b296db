/**
 * npm run bench: the fan-out benchmark (issue 3, "Scale").
 *
 * Claim under test: fanning a rollout out to more instances adds no workflow history events per
 * instance, because a wave's pushes are batched inside one activity that heartbeats. For each fleet size
 * it runs a ONE-wave rollout (100%, no bake, no approval, no failures allowed) to that many real SDK
 * CacheRefresh servers in this process, registered in the local stack's Cloud Map, through a rollout
 * worker in this process on the stack's Temporal dev server, and measures wall time, history events and
 * history bytes. The smallest size is the baseline the others are compared with.
 *
 * At 100 and 1,000 instances it also compares a one-wave rollout with the same work done directly, no
 * Temporal (bench/directFanout.ts: the same store calls, pusher, concurrency and health check), cold (a
 * worker, or a pusher, that never met the fleet) and warm (its second change to the same fleet).
 *
 * stdout carries exactly one JSON document (bench/README.md explains it); every log line goes to stderr.
 * Exits non-zero when a rollout does not succeed, reaches fewer instances than it should, or leaves any
 * instance off the new version. Imported, it runs nothing: `measure` and its set-up serve other scripts.
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Client } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { createAwsClients, destroyAwsClients, type AwsClients } from '../activities/awsClients';
import { type ConfigStore, configStoreFor } from '../activities/storage/configStore';
import type { ConfigAddress } from '../common/configAddress';
import { createLogger } from '../common/logger';
import type { RolloutPlan, RolloutRequest, RolloutResult } from '../common/rollout';
import { loadAwsSettings } from '../common/settings';
import { localStackEnv, stackDown, stackUp } from '../scripts/stack/index';
import { startRollout, createTemporalClient } from '../rolloutClient';
import {
  createDiscovery,
  createPusher,
  createRolloutWorker,
  type RolloutWorker,
} from '../server/rolloutWorker';
import { errorStack, fleetDeps, inProcessWorkerSettings, ONE_WAVE_PLAN } from './common';
import {
  describeError as describe,
  type Fleet,
  type FleetDeps,
  instancesBehind,
  startFleet,
  stopFleet,
} from './fleet';
import { directFanout } from './directFanout';
import { eventMs, type HistoryEvent } from './historyTimeline';

/** Fleet sizes, in order; the first is the baseline the ratios compare against. */
const SIZES = [10, 100, 1000] as const;
/** Sizes at which a rollout is compared with the direct fan-out, and the goals (issue 10, row 4). */
const VS_DIRECT_GOALS: Readonly<Record<number, number>> = { 100: 1.3, 1000: 1.15 };
/** An unreported rollout first, so the baseline does not pay the worker's first-workflow costs. */
const WARMUP_SIZE = 10;
const OVERALL_TIMEOUT_MS = 10 * 60_000;
/** Cleaning up after a failure or the timeout may take this long before the process exits anyway. */
const CLEANUP_TIMEOUT_MS = 60_000;
const KEY = 'tenant_config_fanoutBench';
const LIVE_VALUE = '{"fanout":1}';
const CANDIDATE_VALUE = '{"fanout":2}';
const PLAN: RolloutPlan = { ...ONE_WAVE_PLAN, push: { timeoutMs: 5000, attempts: 3, concurrency: 64 } };

export interface SizeResult {
  readonly instances: number;
  readonly wallMs: number;
  readonly historyEvents: number;
  readonly historyBytes: number;
  readonly updatedInstances: number;
  readonly rssMb: number;
  /** Not part of the claim, for context: how long starting and registering the fleet took. */
  readonly startMs: number;
  /** Activity tasks the rollout scheduled: constant whatever the fleet size if pushes are batched. */
  readonly activityTasks: number;
  /** The largest single activity input or result: Temporal refuses payloads over 2 MB by default. */
  readonly largestPayloadBytes: number;
  /** Per activity type, scheduled to completed (ms), from the history's event times. */
  readonly activityMs: Record<string, number>;
  /** At the sizes of VS_DIRECT_GOALS: the rollout against the direct fan-out, cold and warm. */
  readonly vsDirect?: VsDirect;
}

/** Wall times (ms) of one change to the same fleet each, in this order. */
interface VsDirect {
  /** A fresh worker's first rollout to the fleet (its own task queue: no other worker takes it). */
  readonly rolloutColdMs: number;
  /** A fresh pusher and discovery's first direct fan-out to the fleet. */
  readonly directColdMs: number;
  /** The same worker's second rollout. */
  readonly rolloutWarmMs: number;
  /** The same pusher's second direct fan-out. */
  readonly directWarmMs: number;
}

export interface Context extends FleetDeps {
  readonly runId: string;
  readonly store: ConfigStore;
  readonly temporal: Client;
  readonly taskQueue: string;
  /** What a fresh worker is made with. */
  readonly workerSettings: ReturnType<typeof inProcessWorkerSettings>;
}

/** Failures the benchmark exists to catch: reported, and the exit code is non-zero. */
class BenchFailure extends Error {}

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

/** What was started, so that a failure, a signal or the timeout stops exactly that, newest first. */
const resources: {
  stackStarted: string[];
  clients?: AwsClients;
  temporal?: Client;
  worker?: RolloutWorker;
  fleet?: { fleet: Fleet; context: Context };
} = { stackStarted: [] };

async function main(): Promise<number> {
  // Logs of the platform's loggers at info go to stdout, which is reserved for the result.
  const logger = createLogger({ component: 'bench' }, 'warn');
  Runtime.install({ logger: new DefaultLogger('WARN') });

  Object.assign(process.env, localStackEnv());
  const stack = await stackUp({ tiers: ['infrastructure'] }, (line) => log(`stack: ${line}`));
  resources.stackStarted = stack.started;

  const runId = randomUUID().slice(0, 8);
  const clients = createAwsClients(loadAwsSettings());
  resources.clients = clients;
  const taskQueue = `bench-rollouts-${runId}`;
  const workerSettings = inProcessWorkerSettings(taskQueue, logger);
  const temporal = await createTemporalClient(workerSettings.temporal);
  resources.temporal = temporal;
  const worker = await createRolloutWorker({ clients, ...workerSettings });
  resources.worker = worker;
  void worker.run().catch((error: unknown) => log(`rollout worker stopped: ${describe(error)}`));

  const context: Context = {
    ...fleetDeps(clients, logger, log),
    runId,
    store: configStoreFor(clients, workerSettings.storage),
    temporal,
    taskQueue,
    workerSettings,
  };
  log(`run ${runId}: task queue ${taskQueue}, Cloud Map namespace ${context.namespace}`);

  let warmup: SizeResult | undefined;
  const results: SizeResult[] = [];
  let failure: string | undefined;
  try {
    warmup = await measure(context, WARMUP_SIZE, 'warmup');
    for (const size of SIZES) results.push(await measure(context, size, `n${size}`));
  } catch (error) {
    if (!(error instanceof BenchFailure)) throw error;
    failure = error.message;
    log(`FAILED: ${failure}`);
  }

  await write({
    benchmark: 'rollout-fanout',
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      memoryGb: Math.round(os.totalmem() / 2 ** 30),
      node: process.version,
    },
    plan: PLAN,
    historyBytesSource: 'server: DescribeWorkflowExecution historySizeBytes',
    stack: { startedByBench: stack.started, reused: stack.alreadyRunning },
    warmup,
    results,
    ratios: ratios(results),
    ...(failure ? { failure } : {}),
  });
  return failure ? 1 : 0;
}

/** Starts `size` instances, rolls a new version out to them in one wave, checks them, stops them. */
export async function measure(context: Context, size: number, label: string): Promise<SizeResult> {
  const name = `bench-${context.runId}-${label}`;
  // Its own tenant per size: the key's live version is 1 and the rollout writes candidate 2.
  const address: ConfigAddress = { tenantId: name, key: KEY };
  const live = await context.store.put(address, LIVE_VALUE, { expectedVersion: 0, makeLive: true });

  log(`${label}: starting ${size} instances of service ${name}`);
  const fleet: Fleet = { service: name, instances: [] };
  resources.fleet = { fleet, context };
  const startedAt = performance.now();
  await startFleet(context, fleet, size, address, live);
  const startMs = Math.round(performance.now() - startedAt);
  const rssMb = Math.round(process.memoryUsage().rss / 2 ** 20);
  log(`${label}: ${size} instances started and registered in ${startMs} ms; RSS ${rssMb} MB`);

  const request: RolloutRequest = {
    tenantId: address.tenantId,
    key: KEY,
    change: { kind: 'set', value: CANDIDATE_VALUE },
    targetServices: [fleet.service],
    plan: PLAN,
    actor: 'bench',
  };
  const rolloutStart = performance.now();
  const handle = await startRollout(context.temporal, request, context.taskQueue);
  let result: RolloutResult;
  try {
    result = await handle.result();
  } catch (error) {
    throw new BenchFailure(`${label}: the rollout workflow failed: ${describe(error)}`);
  }
  const wallMs = Math.round(performance.now() - rolloutStart);

  const history = await handle.fetchHistory();
  const events = history.events ?? [];
  const description = await handle.describe();
  // The server's own count, the one its history size limits apply to (Temporal Server 1.20 and later).
  const historyBytes = description.historySize;
  if (historyBytes === undefined) throw new Error('the Temporal server did not report the history size');
  const activities = activityStats(events);

  const problems = verify(fleet, address, size, result, 2);
  const promoted = await context.store.getLive(address);
  if (promoted.version !== 2) problems.push(`the live version is ${promoted.version}, not 2`);
  if (problems.length > 0) throw new BenchFailure(`${label}: ${problems.join('; ')}`);

  log(
    `${label}: ${result.state} on ${result.updatedInstances} instances in ${wallMs} ms, ` +
      `${events.length} history events, ${historyBytes} history bytes, ${activities.tasks} activity tasks`,
  );
  const goal = VS_DIRECT_GOALS[size];
  const vsDirect = goal ? await compareWithDirect(context, fleet, address, size, label) : undefined;
  await stopFleet(context, fleet);
  resources.fleet = undefined;
  return {
    instances: size,
    wallMs,
    historyEvents: events.length,
    historyBytes,
    updatedInstances: result.updatedInstances,
    rssMb,
    startMs,
    activityTasks: activities.tasks,
    largestPayloadBytes: activities.largestPayloadBytes,
    activityMs: activities.ms,
    ...(vsDirect ? { vsDirect } : {}),
  };
}

/**
 * A fresh worker's rollouts against a fresh pusher's direct fan-outs to the same fleet, alternated:
 * rollout, direct, rollout, direct (versions 3 to 6 of the key).
 */
async function compareWithDirect(
  context: Context,
  fleet: Fleet,
  address: ConfigAddress,
  size: number,
  label: string,
): Promise<VsDirect> {
  const { workerSettings } = context;
  const taskQueue = `${context.taskQueue}-${label}-fresh`;
  const worker = await createRolloutWorker({
    clients: context.clients,
    temporal: { ...workerSettings.temporal, taskQueue },
    storage: workerSettings.storage,
    rollout: workerSettings.rollout,
    logger: workerSettings.logger,
  });
  const running = worker.run();
  const direct = {
    store: context.store,
    discovery: createDiscovery(context.clients, workerSettings.rollout, workerSettings.logger),
    pusher: createPusher(workerSettings.rollout, workerSettings.logger),
  };
  let version = 2;
  const rollout = async () => {
    version += 1;
    const request: RolloutRequest = {
      tenantId: address.tenantId,
      key: KEY,
      change: { kind: 'set', value: `{"fanout":${version}}` },
      targetServices: [fleet.service],
      plan: PLAN,
      actor: 'bench',
    };
    const start = performance.now();
    const result = await (await startRollout(context.temporal, request, taskQueue)).result();
    const wallMs = Math.round(performance.now() - start);
    const problems = verify(fleet, address, size, result, version);
    if (problems.length > 0) throw new BenchFailure(`${label} rollout v${version}: ${problems.join('; ')}`);
    return wallMs;
  };
  const fanout = async () => {
    version += 1;
    const result = await directFanout(direct, {
      address,
      service: fleet.service,
      value: `{"fanout":${version}}`,
      settings: PLAN.push!,
      id: `${label}-direct-${version}`,
    });
    const behind = instancesBehind(fleet, address, version);
    if (result.version !== version || result.succeeded !== size || behind.count > 0)
      throw new BenchFailure(
        `${label} direct v${version}: ${JSON.stringify(result)}; ${behind.count} behind`,
      );
    return result.wallMs;
  };
  try {
    const compared: VsDirect = {
      rolloutColdMs: await rollout(),
      directColdMs: await fanout(),
      rolloutWarmMs: await rollout(),
      directWarmMs: await fanout(),
    };
    log(`${label}: vs direct ${JSON.stringify(compared)}`);
    return compared;
  } finally {
    direct.pusher.close();
    await worker.shutdown();
    await running.catch(() => undefined);
  }
}

/** Where the history's bytes and the rollout's time go, per activity. */
function activityStats(events: readonly HistoryEvent[]) {
  const scheduled = new Map<string, { type: string; at: number }>();
  const ms: Record<string, number> = {};
  let largestPayloadBytes = 0;
  for (const event of events) {
    const asked = event.activityTaskScheduledEventAttributes;
    if (asked) {
      largestPayloadBytes = Math.max(largestPayloadBytes, payloadBytes(asked.input));
      scheduled.set(String(event.eventId), { type: asked.activityType?.name ?? '?', at: eventMs(event) });
    }
    const done = event.activityTaskCompletedEventAttributes;
    if (done) {
      largestPayloadBytes = Math.max(largestPayloadBytes, payloadBytes(done.result));
      const from = scheduled.get(String(done.scheduledEventId));
      if (from) ms[from.type] = (ms[from.type] ?? 0) + eventMs(event) - from.at;
    }
  }
  return { tasks: scheduled.size, largestPayloadBytes, ms };
}

function payloadBytes(payloads: { payloads?: { data?: Uint8Array | null }[] | null } | null | undefined) {
  return (payloads?.payloads ?? []).reduce((sum, payload) => sum + (payload.data?.byteLength ?? 0), 0);
}

/** Every instance must hold the candidate, and the rollout must say it reached exactly all of them. */
function verify(
  fleet: Fleet,
  address: ConfigAddress,
  size: number,
  result: RolloutResult,
  version: number,
): string[] {
  const problems: string[] = [];
  if (result.state !== 'SUCCEEDED') problems.push(`rollout ${result.state}: ${result.reason ?? ''}`);
  if (result.candidateVersion !== version)
    problems.push(`candidate version ${result.candidateVersion}, not ${version}`);
  if (result.updatedInstances !== size)
    problems.push(`updatedInstances ${result.updatedInstances}, not ${size}`);
  if (result.failedInstances !== 0) problems.push(`${result.failedInstances} instance(s) failed`);
  const behind = instancesBehind(fleet, address, version);
  if (behind.count > 0)
    problems.push(`${behind.count} instance(s) not on version ${version} (${behind.sample.join(', ')})`);
  if (fleet.instances.length !== size) problems.push(`${fleet.instances.length} instances ran, not ${size}`);
  return problems;
}

interface Ratio {
  readonly value: number;
  readonly goal: string;
  readonly met: boolean;
  readonly measured: Record<string, unknown>;
}

/**
 * Each size against the baseline (the first size) of the same run: history events must not grow with
 * the fleet (issue 10, row 7), bytes and wall time are for context; and, where compared, the rollout
 * against the direct fan-out (row 4).
 */
function ratios(results: readonly SizeResult[]): Record<string, Ratio> {
  const [baseline, ...others] = results;
  if (!baseline) return {};
  const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;
  const context = (value: number, measured: Record<string, unknown>): Ratio => ({
    value,
    goal: 'none (context)',
    met: true,
    measured,
  });
  const out: Record<string, Ratio> = {};
  for (const result of others) {
    const vs = `${result.instances}_vs_${baseline.instances}`;
    const events = { [result.instances]: result.historyEvents, [baseline.instances]: baseline.historyEvents };
    const value = ratio(result.historyEvents, baseline.historyEvents);
    out[`historyEvents_${vs}`] = { value, goal: '== 1', met: value === 1, measured: events };
    out[`historyBytes_${vs}`] = context(ratio(result.historyBytes, baseline.historyBytes), {
      [result.instances]: result.historyBytes,
      [baseline.instances]: baseline.historyBytes,
    });
    out[`wallMs_${vs}`] = context(ratio(result.wallMs, baseline.wallMs), {
      [result.instances]: result.wallMs,
      [baseline.instances]: baseline.wallMs,
    });
  }
  for (const result of results) {
    const goal = VS_DIRECT_GOALS[result.instances];
    if (!goal || !result.vsDirect) continue;
    const compared = result.vsDirect;
    for (const [mode, rolloutMs, directMs] of [
      ['cold', compared.rolloutColdMs, compared.directColdMs],
      ['warm', compared.rolloutWarmMs, compared.directWarmMs],
    ] as const) {
      const value = ratio(rolloutMs, directMs);
      out[`rolloutVsDirect_${result.instances}_${mode}`] = {
        value,
        goal: `<= ${goal}`,
        met: value <= goal,
        measured: { rolloutMs, directMs },
      };
    }
  }
  return out;
}

let cleaning: Promise<void> | undefined;
/** Set when a signal or the timeout ends the run: the interrupted run then prints no document. */
let aborting = false;

/** Stops what this run started, newest first; idempotent, and never throws. */
function cleanUp(): Promise<void> {
  cleaning ??= (async () => {
    const step = async (what: string, run: () => Promise<unknown>) => {
      try {
        await run();
      } catch (error) {
        log(`clean-up: ${what} failed: ${describe(error)}`);
      }
    };
    const { fleet, worker, temporal, clients, stackStarted } = resources;
    if (fleet) await step('stopping the instances', () => stopFleet(fleet.context, fleet.fleet));
    if (worker) await step('stopping the rollout worker', () => worker.shutdown());
    // An interrupted run may still be waiting on a rollout's result; the Temporal client retries such a
    // call on a timer, which throws once the connection is closed. process.exit() closes it then.
    if (temporal && !aborting) await step('closing the Temporal client', () => temporal.connection.close());
    if (clients) destroyAwsClients(clients);
    if (stackStarted.length > 0) {
      await step('stopping the stack', () => stackDown(stackStarted, (line) => log(`stack: ${line}`)));
    }
  })();
  return cleaning;
}

/** Ends the process after cleaning up, however long cleaning up takes (within CLEANUP_TIMEOUT_MS). */
async function exitAfterCleanUp(code: number): Promise<never> {
  const cap = setTimeout(() => {
    log(`clean-up did not finish within ${CLEANUP_TIMEOUT_MS} ms; exiting anyway`);
    process.exit(code);
  }, CLEANUP_TIMEOUT_MS);
  await cleanUp();
  clearTimeout(cap);
  process.exit(code);
}

function write(document: unknown): Promise<void> {
  if (aborting) return Promise.resolve();
  return new Promise((resolve) =>
    process.stdout.write(`${JSON.stringify(document, null, 2)}\n`, () => resolve()),
  );
}

/** Ends an unfinished run: whatever main() is doing, clean up and exit with `code`. */
function abort(reason: string, code: number): void {
  if (aborting) return;
  aborting = true;
  log(`${reason}: stopping`);
  void exitAfterCleanUp(code);
}

/** The benchmark as `npm run bench` runs it: within OVERALL_TIMEOUT_MS, stopped cleanly by a signal. */
function run(): void {
  const overall = setTimeout(
    () => abort(`timed out after ${OVERALL_TIMEOUT_MS / 1000} s`, 2),
    OVERALL_TIMEOUT_MS,
  );
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    // `on`, not `once`: npm and tsx relay a Ctrl-C on top of the terminal's own, and a repeat finding no
    // listener would make tsx end the process before the clean-up is done.
    process.on(signal, () => abort(signal, code));
  }

  main().then(
    (code) => {
      clearTimeout(overall);
      // An abort already cleans up and exits with its own code.
      if (!aborting) void exitAfterCleanUp(code);
    },
    (error: unknown) => {
      clearTimeout(overall);
      if (aborting) return;
      log(`error: ${errorStack(error)}`);
      void exitAfterCleanUp(1);
    },
  );
}

if (require.main === module) run();
