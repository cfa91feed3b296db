/**
 * npm run bench:shards: a fleet larger than one worker (issue 10, "Fleets larger than one worker").
 *
 * Claim under test: a wave's pushes run in shards of at most FLEET_SHARD_SIZE instances that any worker
 * of the task queue may run, so a second worker process adds push capacity; history grows per shard,
 * not per instance; nothing is applied twice. It starts FLEET_PROCESSES child processes
 * (bench/shardFleetProcess.ts), each running its share of INSTANCES in-process SDK instances (the SDK's
 * refresh server and Cloud Map registration, bench/fleet.ts), then rolls a new version out to all of
 * them in one wave, first with one worker process (the baseline), then with two on the same task queue.
 *
 * stdout carries exactly one JSON document; progress goes to stderr. Exits non-zero when a rollout does
 * not succeed or leaves an instance off its version.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { createAwsClients, destroyAwsClients } from '../activities/awsClients';
import { configStoreFor } from '../activities/storage/configStore';
import type { ConfigAddress } from '../common/configAddress';
import { FLEET_SHARD_SIZE, type RolloutPlan, type RolloutRequest } from '../common/rollout';
import { loadAwsSettings, loadStorageSettings, loadTemporalSettings } from '../common/settings';
import { localStackEnv, stackDown, stackUp } from '../scripts/stack/index';
import { startRollout, createTemporalClient, historyInPages } from '../rolloutClient';
import { errorStack, ONE_WAVE_PLAN } from './common';
import type { FleetAnswer, FleetReport, FleetRequest } from './shardFleetProcess';

/** The fleet: SHARD_BENCH_INSTANCES (default 10,000) over SHARD_BENCH_FLEETS processes (default 2). */
const INSTANCES = Number(process.env.SHARD_BENCH_INSTANCES ?? 10_000);
const FLEET_PROCESSES = Number(process.env.SHARD_BENCH_FLEETS ?? 2);
const WORKER_COUNTS = [1, 2] as const;
/** Activities (shards) one worker runs at once: WORKER_MAX_CONCURRENT_ACTIVITIES of its processes. */
const SHARDS_PER_WORKER = Number(process.env.SHARD_BENCH_SHARDS_PER_WORKER ?? 4);
const OVERALL_TIMEOUT_MS = 40 * 60_000;
const REPO = path.join(__dirname, '..');
/** Events per history page fetched: a shard's input is ~90 KB. */
const KEY = 'tenant_config_shardBench';
const PLAN: RolloutPlan = { ...ONE_WAVE_PLAN, push: { timeoutMs: 10_000, attempts: 3, concurrency: 64 } };

type HistoryEvent = NonNullable<Awaited<ReturnType<WorkflowHandle['fetchHistory']>>['events']>[number];

interface PhaseResult {
  readonly workers: number;
  readonly wallMs: number;
  readonly state: string;
  readonly updatedInstances: number;
  readonly historyEvents: number;
  readonly historyEventsPer1000Instances: number;
  readonly historyBytes: number;
  readonly largestPayloadBytes: number;
  /** Push and check shards each worker process ran (by pid). */
  readonly shardsPerWorker: Record<string, number>;
  /**
   * Per activity type, from the history's event times: `spanMs` from the first scheduled to the last
   * completed (shards overlap: this is the phase's wall time), `sumMs` of each one's own time.
   */
  readonly activityMs: Record<string, { spanMs: number; sumMs: number }>;
  /** Activity attempts past the first: the only way a push may reach an instance twice. */
  readonly retriedActivities: number;
  readonly fleets: FleetReport[];
}

const log = (line: string) => process.stderr.write(`[bench:shards] ${line}\n`);
const started: { stack: string[]; fleets: ChildProcess[]; workers: ChildProcess[] } = {
  stack: [],
  fleets: [],
  workers: [],
};

async function main(): Promise<number> {
  Object.assign(process.env, localStackEnv());
  const stack = await stackUp({ tiers: ['infrastructure'] }, (line) => log(`stack: ${line}`));
  started.stack = stack.started;
  const runId = randomUUID().slice(0, 8);
  const clients = createAwsClients(loadAwsSettings());
  const store = configStoreFor(clients, loadStorageSettings());
  const temporalSettings = loadTemporalSettings();
  const client = await createTemporalClient(temporalSettings);
  const address: ConfigAddress = { tenantId: `shards-${runId}`, key: KEY };
  const live = await store.put(address, '{"wave":1}', { expectedVersion: 0, makeLive: true });

  const services = Array.from({ length: FLEET_PROCESSES }, (_, i) => `shards-${runId}-${i}`);
  log(`starting ${INSTANCES} instances in ${FLEET_PROCESSES} fleet processes`);
  const startedAt = performance.now();
  const fleets = services.map(() => forkFleet());
  started.fleets = fleets;
  await Promise.all(
    fleets.map((fleet, i) =>
      ask(fleet, {
        type: 'start',
        service: services[i]!,
        size: Math.ceil(INSTANCES / FLEET_PROCESSES),
        address,
        live: { version: live.version, value: live.value, format: live.format },
      }),
    ),
  );
  const fleetStartMs = Math.round(performance.now() - startedAt);
  log(`fleet started and registered in ${fleetStartMs} ms`);

  const results: PhaseResult[] = [];
  let failure: string | undefined;
  for (const [index, workers] of WORKER_COUNTS.entries()) {
    const result = await phase(client, temporalSettings.namespace, fleets, {
      runId,
      workers,
      address,
      services,
      version: live.version + index + 1,
    });
    results.push(result);
    const behind = result.fleets.reduce((sum, fleet) => sum + fleet.instances - fleet.holding, 0);
    if (result.state !== 'SUCCEEDED' || behind > 0)
      failure = `with ${workers} worker(s): ${result.state}, ${behind} instance(s) behind`;
  }

  const [one, two] = results;
  const duplicates = results.reduce(
    (sum, result) => sum + result.fleets.reduce((n, fleet) => n + fleet.appliedMoreThanOnce, 0),
    0,
  );
  const retried = results.reduce((sum, result) => sum + result.retriedActivities, 0);
  const document = {
    benchmark: 'sharded-fanout',
    machine: { cpus: os.cpus().length, node: process.version, loadAverage: os.loadavg() },
    instances: INSTANCES,
    fleetProcesses: FLEET_PROCESSES,
    shardSize: FLEET_SHARD_SIZE,
    shardsPerWorkerAtOnce: SHARDS_PER_WORKER,
    plan: PLAN,
    fleetStartMs,
    results,
    ratios: {
      // What the workers share: the wave's push shards (one wave: their span is the push phase).
      pushMs_2workers_vs_1worker: {
        value: one && two ? round(pushMs(two) / pushMs(one)) : null,
        goal: '< 1',
        met: Boolean(one && two && pushMs(two) < pushMs(one)),
        measured: { oneWorkerMs: one && pushMs(one), twoWorkersMs: two && pushMs(two) },
      },
      wallMs_2workers_vs_1worker: {
        value: one && two ? round(two.wallMs / one.wallMs) : null,
        goal: '< 1',
        met: Boolean(one && two && two.wallMs < one.wallMs),
        measured: { oneWorkerMs: one?.wallMs, twoWorkersMs: two?.wallMs },
      },
      duplicateApplies: {
        value: duplicates,
        goal: '== 0 (absent retries)',
        met: duplicates === 0 || retried > 0,
        measured: { retriedActivities: retried },
      },
      historyEventsPer1000Instances: {
        value: one?.historyEventsPer1000Instances ?? null,
        goal: `history bounded: whole rollout <= 10240 events (Temporal's warning) at ${INSTANCES} instances`,
        met: results.every((result) => result.historyEvents <= 10_240),
        measured: Object.fromEntries(results.map((result) => [`${result.workers}w`, result.historyEvents])),
      },
    },
    ...(failure ? { failure } : {}),
  };
  process.stdout.write(`${JSON.stringify(document, null, 2)}\n`);
  await client.connection.close();
  await store.close();
  destroyAwsClients(clients);
  return failure ? 1 : 0;
}

/** One rollout of `version` to the whole fleet, run by `workers` fresh worker processes. */
async function phase(
  client: Client,
  namespace: string,
  fleets: ChildProcess[],
  input: { runId: string; workers: number; address: ConfigAddress; services: string[]; version: number },
): Promise<PhaseResult> {
  const taskQueue = `bench-shards-${input.runId}-${input.workers}`;
  const workers = Array.from({ length: input.workers }, () => spawnWorker(taskQueue));
  started.workers = workers;
  try {
    await pollersReady(client, namespace, taskQueue, input.workers);
    log(`${input.workers} worker(s) polling ${taskQueue}; rolling out version ${input.version}`);
    const request: RolloutRequest = {
      tenantId: input.address.tenantId,
      key: KEY,
      change: { kind: 'set', value: `{"wave":${input.version}}` },
      targetServices: input.services,
      plan: PLAN,
      actor: 'bench',
    };
    const startedAt = performance.now();
    const handle = await startRollout(client, request, taskQueue);
    const result = await handle.result();
    const wallMs = Math.round(performance.now() - startedAt);
    const events = await historyInPages(client, handle);
    const { historySize } = await handle.describe();
    const stats = activityStats(events);
    const reports = await Promise.all(
      fleets.map(async (fleet) => {
        const answer = await ask(fleet, { type: 'report', version: input.version });
        if (answer.type !== 'report') throw new Error(`a fleet process answered ${answer.type}`);
        return answer.report;
      }),
    );
    log(
      `${input.workers} worker(s): ${result.state} on ${result.updatedInstances} in ${wallMs} ms, ` +
        `${events.length} events; shards per worker ${JSON.stringify(stats.shardsPerWorker)}`,
    );
    return {
      workers: input.workers,
      wallMs,
      state: result.state,
      updatedInstances: result.updatedInstances,
      historyEvents: events.length,
      historyEventsPer1000Instances: round((events.length / INSTANCES) * 1000),
      historyBytes: historySize ?? 0,
      largestPayloadBytes: stats.largestPayloadBytes,
      shardsPerWorker: stats.shardsPerWorker,
      activityMs: stats.activityMs,
      retriedActivities: stats.retried,
      fleets: reports,
    };
  } finally {
    await Promise.all(workers.map((worker) => stop(worker, 'SIGTERM')));
    started.workers = [];
  }
}

function forkFleet(): ChildProcess {
  const child = fork(path.join(__dirname, 'shardFleetProcess.ts'), [], {
    cwd: REPO,
    execArgv: ['--require', 'tsx/cjs'],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  return child;
}

/** Sends a request to a fleet process; its answer (a failure rejects). */
function ask(fleet: ChildProcess, request: FleetRequest): Promise<FleetAnswer> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`fleet process exited (${code})`));
    fleet.once('message', (message: FleetAnswer) => {
      fleet.off('exit', onExit);
      if (message.type === 'failed') reject(new Error(`fleet process: ${message.error}`));
      else resolve(message);
    });
    fleet.once('exit', onExit);
    fleet.send(request);
  });
}

function spawnWorker(taskQueue: string): ChildProcess {
  return spawn(process.execPath, ['--require', 'tsx/cjs', 'server/worker.ts'], {
    cwd: REPO,
    env: {
      ...process.env,
      TEMPORAL_TASK_QUEUE: taskQueue,
      WORKER_HEALTH_PORT: '0',
      // Two workers at once: the Runtime's metrics exporter of each on a port of its own.
      WORKER_RUNTIME_METRICS_PORT: '0',
      // No config service runs: no read cache to wait out after promoting.
      CONFIG_CACHE_TTL_MS: '0',
      // A scheduled reconcile pass walks the whole 10,000-instance fleet: it would compete with the
      // rollout under test for the same two cores, in one phase and not the other.
      RECONCILE_INTERVAL_SECONDS: '0',
      MAX_INSTANCES_PER_ROLLOUT: String(Math.max(INSTANCES, 1)),
      // A worker's push capacity, as a deployed one's is bounded by its machine: shards past it wait for
      // another worker (see deploy/README.md, "Several workers").
      WORKER_MAX_CONCURRENT_ACTIVITIES: String(SHARDS_PER_WORKER),
      LOG_LEVEL: 'error',
    },
    stdio: 'ignore',
  });
}

/** Waits until `count` workers poll the task queue for activities (they bundle the workflows first). */
async function pollersReady(client: Client, namespace: string, taskQueue: string, count: number) {
  for (let attempt = 0; attempt < 240; attempt += 1) {
    const { pollers } = await client.workflowService.describeTaskQueue({
      namespace,
      taskQueue: { name: taskQueue },
      taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
    });
    if ((pollers?.length ?? 0) >= count) return;
    await sleep(500);
  }
  throw new Error(`${count} worker(s) did not poll ${taskQueue} within 120 s`);
}

function activityStats(events: readonly HistoryEvent[]) {
  const scheduled = new Map<string, string>();
  const scheduledAt = new Map<string, number>();
  const spans: Record<string, { from: number; to: number; sum: number }> = {};
  const shardsPerWorker: Record<string, number> = {};
  let largestPayloadBytes = 0;
  let retried = 0;
  for (const event of events) {
    const asked = event.activityTaskScheduledEventAttributes;
    if (asked) {
      largestPayloadBytes = Math.max(largestPayloadBytes, payloadBytes(asked.input));
      scheduled.set(String(event.eventId), asked.activityType?.name ?? '?');
      scheduledAt.set(String(event.eventId), eventMs(event));
    }
    const ran = event.activityTaskStartedEventAttributes;
    if (ran) {
      if ((ran.attempt ?? 1) > 1) retried += 1;
      const type = scheduled.get(String(ran.scheduledEventId));
      if (type === 'pushToInstances' || type === 'checkInstances') {
        const pid = `pid ${(ran.identity ?? '?').split('@')[0]}`;
        shardsPerWorker[pid] = (shardsPerWorker[pid] ?? 0) + 1;
      }
    }
    const done = event.activityTaskCompletedEventAttributes;
    if (done) {
      largestPayloadBytes = Math.max(largestPayloadBytes, payloadBytes(done.result));
      const id = String(done.scheduledEventId);
      const type = scheduled.get(id) ?? '?';
      const span = spans[type];
      const from = scheduledAt.get(id) ?? 0;
      spans[type] = {
        from: Math.min(span?.from ?? from, from),
        to: Math.max(span?.to ?? 0, eventMs(event)),
        sum: (span?.sum ?? 0) + eventMs(event) - from,
      };
    }
  }
  const activityMs = Object.fromEntries(
    Object.entries(spans).map(([type, { from, to, sum }]) => [type, { spanMs: to - from, sumMs: sum }]),
  );
  return { shardsPerWorker, largestPayloadBytes, retried, activityMs };
}

/** An event's time in ms; seconds may be a protobuf Long, whose decimal string Number() reads. */
function eventMs(event: HistoryEvent): number {
  const time = event.eventTime;
  return Number(String(time?.seconds ?? 0)) * 1000 + Math.round((time?.nanos ?? 0) / 1e6);
}

function payloadBytes(payloads: { payloads?: { data?: Uint8Array | null }[] | null } | null | undefined) {
  return (payloads?.payloads ?? []).reduce((sum, payload) => sum + (payload.data?.byteLength ?? 0), 0);
}

function pushMs(result: PhaseResult): number {
  return result.activityMs.pushToInstances?.spanMs ?? 0;
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

function stop(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const cap = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('exit', () => {
      clearTimeout(cap);
      resolve();
    });
    child.kill(signal);
  });
}

/** Stops what this run started: workers, then fleets (which deregister), then the stack. */
async function cleanUp(): Promise<void> {
  await Promise.all(started.workers.map((worker) => stop(worker, 'SIGKILL')));
  await Promise.all(
    started.fleets.map(async (fleet) => {
      if (fleet.exitCode !== null || fleet.signalCode !== null) return;
      await Promise.race([ask(fleet, { type: 'stop' }).catch(() => undefined), sleep(120_000)]);
      await stop(fleet, 'SIGKILL');
    }),
  );
  if (started.stack.length > 0) await stackDown(started.stack, (line) => log(`stack: ${line}`));
}

const overall = setTimeout(() => {
  log(`timed out after ${OVERALL_TIMEOUT_MS / 1000} s`);
  void cleanUp().finally(() => process.exit(2));
}, OVERALL_TIMEOUT_MS);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => void cleanUp().finally(() => process.exit(130)));
}

main().then(
  async (code) => {
    clearTimeout(overall);
    await cleanUp();
    process.exit(code);
  },
  async (error: unknown) => {
    clearTimeout(overall);
    log(`error: ${errorStack(error)}`);
    await cleanUp();
    process.exit(1);
  },
);
