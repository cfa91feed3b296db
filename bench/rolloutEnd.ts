/**
 * npm run bench:end: how long after the last instance acknowledged does a rollout reach SUCCEEDED
 * (issue 10, row 3: "<= 1 s after the last ack, with the same guarantee").
 *
 * A config service with its normal read-cache TTL (CONFIG_CACHE_TTL_MS, 5 s by default) registered for
 * promotion notices, real SDK instances reading through it, and two rollout workers in this process:
 * one that tells the read caches of each promotion (the default), one with READ_CACHE_NOTICES=off, which
 * waits the TTL out as every rollout did before: the baseline, measured in the same run, alternately.
 * For each rollout: client start -> SUCCEEDED (the result's arrival), and the moment the last instance
 * applied the new version (its own change listener, same clock).
 *
 * stdout carries exactly one JSON document; progress goes to stderr. Stops only what it started.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import {
  DeleteNamespaceCommand,
  DeleteServiceCommand,
  type ServiceDiscoveryClient,
} from '@aws-sdk/client-servicediscovery';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { createAwsClients, destroyAwsClients } from '../activities/awsClients';
import { ensureHttpNamespace, findNamespaceId, findServiceId } from '../common/cloudMapSetup';
import { configStoreFor } from '../activities/storage/configStore';
import { CONFIG_SERVICE_REPLICAS } from '../common/cloudMap';
import { createLogger } from '../common/logger';
import type { RolloutRequest } from '../common/rollout';
import {
  loadAuthSettings,
  loadAwsSettings,
  loadRolloutWorkerSettings,
  loadServerSettings,
  loadStorageSettings,
  loadTemporalSettings,
} from '../common/settings';
import { localStackEnv, stackDown, stackUp } from '../scripts/stack/index';
import { ConfigClient } from '../sdk';
import { issueDevToken } from '../scripts/stack/localIssuer';
import { createTokenVerifier } from '../server/auth/tokenVerifier';
import { startPlatformServer } from '../server/platformServer';
import { startRollout, createTemporalClient } from '../rolloutClient';
import { createRolloutWorker, type RolloutWorker } from '../server/rolloutWorker';
import { errorMessage } from '../common/errors';
import { median, round2 } from './common';
import { eventMs, type HistoryEvent } from './historyTimeline';

const INSTANCES = 4;
/** Rollouts per mode, alternating, after one unreported warm-up of each. */
const ROUNDS = 5;
const GOAL_MS = 1000;
const OVERALL_TIMEOUT_MS = 5 * 60_000;
const KEY = 'tenant_config_endBench';
const MODES = ['notices', 'fallback'] as const;
type Mode = (typeof MODES)[number];

interface Sample {
  readonly startToSucceededMs: number;
  readonly startToLastAckMs: number;
  readonly afterLastAckMs: number;
  readonly timers: number;
  /** Where the end goes: each activity's scheduled-to-completed time (ms) from the first push's completion on. */
  readonly afterPushActivityMs: Record<string, number>;
}

const log = (line: string) => process.stderr.write(`[bench:end] ${line}\n`);
const cleanups: (() => Promise<unknown>)[] = [];

async function main(): Promise<number> {
  const runId = randomUUID().slice(0, 8);
  const tenantId = `bench-end-${runId}`;
  const service = `bench-end-${runId}`;
  // Its own Cloud Map namespace: a replica another run left registered would make every rollout wait.
  const namespace = `bench-end-${runId}.local`;
  Object.assign(process.env, localStackEnv());
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const logger = createLogger({ component: 'bench-end' }, 'warn');
  const stack = await stackUp({ tiers: ['infrastructure'] }, (line) => log(`stack: ${line}`));
  cleanups.push(() => stackDown(stack.started, (line) => log(`stack: ${line}`)));
  // After the stack's start, which sets the stack's own environment again.
  process.env.CLOUD_MAP_NAMESPACE = namespace;

  const clients = createAwsClients(loadAwsSettings());
  cleanups.push(() => Promise.resolve(destroyAwsClients(clients)));
  await ensureHttpNamespace(clients.serviceDiscovery, namespace);
  cleanups.push(() => dropNamespace(clients.serviceDiscovery, namespace, [CONFIG_SERVICE_REPLICAS, service]));
  const store = configStoreFor(clients, loadStorageSettings());
  cleanups.push(() => store.close());
  const serverSettings = loadServerSettings({ ...process.env, GRPC_PORT: '0', HTTP_PORT: '0' });
  const server = await startPlatformServer({
    store,
    verifier: createTokenVerifier(loadAuthSettings()),
    logger,
    settings: serverSettings,
    serviceDiscovery: clients.serviceDiscovery,
  });
  cleanups.push(() => server.stop());
  const ttlMs = serverSettings.cacheTtlMs;
  log(`config service: read cache TTL ${ttlMs} ms, registered as ${server.replica?.instanceId}`);

  const workers: Record<Mode, { queue: string; worker: RolloutWorker }> = {
    notices: await startWorker(`bench-end-${runId}-notices`, 'on'),
    fallback: await startWorker(`bench-end-${runId}-fallback`, 'off'),
  };
  const temporal = await createTemporalClient(loadTemporalSettings());
  cleanups.push(() => temporal.connection.close());

  await store.put({ tenantId, key: KEY }, '{"round":0}', { expectedVersion: 0, makeLive: true });
  const acks = new Map<number, number[]>();
  const instances: ConfigClient[] = [];
  for (let i = 0; i < INSTANCES; i += 1) {
    const client = new ConfigClient({
      service,
      tenancy: { kind: 'silo', tenantId },
      configServiceAddress: `127.0.0.1:${server.grpcPort}`,
      tokenFor: () => Promise.resolve(issueDevToken({ tenantId, groups: ['services'] })),
      preload: [{ tenantId, key: KEY }],
      refreshServer: { host: '127.0.0.1', port: 0 },
      pushVerifyKeyPem: readFileSync(requiredEnv('PUSH_VERIFY_KEY_FILE'), 'utf8'),
      cloudMap: { client: clients.serviceDiscovery, namespace, createServiceIfMissing: true },
      versionCheckIntervalMs: 0,
      logger,
    });
    await client.start();
    cleanups.push(() => client.stop());
    client.onChange(KEY, (change) => {
      const at = performance.now();
      acks.set(change.heldVersion, [...(acks.get(change.heldVersion) ?? []), at]);
    });
    instances.push(client);
  }
  log(`${INSTANCES} instances of ${service} started and registered`);

  let version = 1;
  const rollout = async (mode: Mode): Promise<Sample> => {
    version += 1;
    const request: RolloutRequest = {
      tenantId,
      key: KEY,
      change: { kind: 'set', value: `{"round":${version}}` },
      targetServices: [service],
      plan: {
        strategy: { kind: 'explicit', waves: ['100%'] },
        bakeSeconds: 0,
        approval: 'none',
        maxFailures: 0,
      },
      actor: 'bench',
    };
    const startedAt = performance.now();
    const handle = await startRollout(temporal, request, workers[mode].queue);
    const result = await handle.result();
    const endedAt = performance.now();
    const applied = acks.get(version) ?? [];
    if (result.state !== 'SUCCEEDED' || applied.length !== INSTANCES) {
      throw new Error(
        `${mode}: ${result.state} (${result.reason ?? ''}), ${applied.length} of ${INSTANCES} instances applied v${version}`,
      );
    }
    const live = await store.getLive({ tenantId, key: KEY });
    if (live.version !== version) throw new Error(`${mode}: live is v${live.version}, not v${version}`);
    const { events } = await handle.fetchHistory();
    const lastAck = Math.max(...applied);
    return {
      startToSucceededMs: Math.round(endedAt - startedAt),
      startToLastAckMs: Math.round(lastAck - startedAt),
      afterLastAckMs: Math.round(endedAt - lastAck),
      timers: (events ?? []).filter((event) => event.timerStartedEventAttributes).length,
      afterPushActivityMs: afterPush(events ?? []),
    };
  };

  for (const mode of MODES) await rollout(mode);
  const samples: Record<Mode, Sample[]> = { notices: [], fallback: [] };
  for (let round = 0; round < ROUNDS; round += 1) {
    for (const mode of MODES) {
      const sample = await rollout(mode);
      samples[mode].push(sample);
      log(`round ${round + 1} ${mode}: ${JSON.stringify(sample)}`);
    }
  }

  const summary = (mode: Mode) => ({
    rollouts: samples[mode].length,
    startToSucceededMsP50: median(samples[mode].map((s) => s.startToSucceededMs)),
    startToLastAckMsP50: median(samples[mode].map((s) => s.startToLastAckMs)),
    afterLastAckMsP50: median(samples[mode].map((s) => s.afterLastAckMs)),
    afterLastAckMsMax: Math.max(...samples[mode].map((s) => s.afterLastAckMs)),
    timersPerRollout: median(samples[mode].map((s) => s.timers)),
  });
  const notices = summary('notices');
  const fallback = summary('fallback');
  write({
    benchmark: 'rollout-end',
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown', node: process.version },
    setup: { instances: INSTANCES, readCacheTtlMs: ttlMs, replicas: 1, rounds: ROUNDS, start: 'client' },
    notices,
    fallback,
    samples,
    ratios: {
      endAfterLastAck: {
        value: notices.afterLastAckMsP50,
        goal: `<= ${GOAL_MS} ms after last ack`,
        met: notices.afterLastAckMsP50 <= GOAL_MS,
        measured: { notices, fallback },
      },
      endAfterLastAckVsFallback: {
        value: round2(notices.afterLastAckMsP50 / fallback.afterLastAckMsP50),
        goal: '< 1 (the fixed TTL + 1 s wait is gone)',
        met: notices.afterLastAckMsP50 < fallback.afterLastAckMsP50,
        measured: {
          noticesMs: notices.afterLastAckMsP50,
          fallbackMs: fallback.afterLastAckMsP50,
          differenceMs: fallback.afterLastAckMsP50 - notices.afterLastAckMsP50,
        },
      },
    },
  });
  return 0;

  async function startWorker(queue: string, notices: 'on' | 'off') {
    const worker = await createRolloutWorker({
      clients,
      temporal: loadTemporalSettings({ ...process.env, TEMPORAL_TASK_QUEUE: queue }),
      storage: loadStorageSettings(),
      rollout: loadRolloutWorkerSettings({ ...process.env, READ_CACHE_NOTICES: notices }),
      logger,
    });
    void worker.run().catch((error: unknown) => log(`worker ${queue} stopped: ${String(error)}`));
    cleanups.push(() => worker.shutdown());
    return { queue, worker };
  }
}

/**
 * From the history: after the wave's push completed, what each activity took (scheduled to completed)
 * and the rest until the workflow completed (workflow tasks and their round trips), in server time.
 */
function afterPush(events: readonly HistoryEvent[]): Record<string, number> {
  const types = new Map<string, string>();
  const scheduledAt = new Map<string, number>();
  const spent: Record<string, number> = {};
  let pushedAt: number | undefined;
  let activities = 0;
  for (const event of events) {
    const scheduled = event.activityTaskScheduledEventAttributes;
    if (scheduled) {
      types.set(String(event.eventId), scheduled.activityType?.name ?? '?');
      scheduledAt.set(String(event.eventId), eventMs(event));
    }
    const completed = event.activityTaskCompletedEventAttributes;
    if (completed) {
      const id = String(completed.scheduledEventId);
      const type = types.get(id) ?? '?';
      if (pushedAt !== undefined) {
        const ms = eventMs(event) - (scheduledAt.get(id) ?? eventMs(event));
        spent[type] = (spent[type] ?? 0) + ms;
        activities += ms;
      }
      if (type === 'pushToInstances' && pushedAt === undefined) pushedAt = eventMs(event);
    }
    if (event.workflowExecutionCompletedEventAttributes && pushedAt !== undefined) {
      spent.total = eventMs(event) - pushedAt;
      spent.betweenActivities = spent.total - activities;
    }
  }
  return spent;
}

/** The namespace and its services, once every registration in it is gone. */
async function dropNamespace(
  client: ServiceDiscoveryClient,
  namespace: string,
  services: readonly string[],
): Promise<void> {
  const namespaceId = await findNamespaceId(client, namespace);
  if (!namespaceId) return;
  for (const name of services) {
    const id = await findServiceId(client, namespaceId, name);
    if (id) await client.send(new DeleteServiceCommand({ Id: id }));
  }
  await client.send(new DeleteNamespaceCommand({ Id: namespaceId }));
}

function write(document: unknown): void {
  process.stdout.write(`${JSON.stringify(document, null, 2)}\n`);
}

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

/** Stops what was started, newest first; each step may fail on its own. */
async function cleanUp(): Promise<void> {
  for (const step of cleanups.splice(0).reverse()) {
    await step().catch((error: unknown) => log(`cleanup: ${String(error)}`));
  }
}

const deadline = setTimeout(() => {
  log(`no result within ${OVERALL_TIMEOUT_MS / 1000} s: stopping what was started`);
  void cleanUp().finally(() => process.exit(2));
}, OVERALL_TIMEOUT_MS);

void main()
  .then(
    async (code) => {
      await cleanUp();
      return code;
    },
    async (error: unknown) => {
      log(`FAILED: ${errorMessage(error)}`);
      await cleanUp();
      return 1;
    },
  )
  .then((code) => {
    clearTimeout(deadline);
    process.exit(code);
  });
