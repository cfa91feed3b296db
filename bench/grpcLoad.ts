/**
 * What the gRPC read benchmarks share: the config service started as its own process from this checkout,
 * and ghz run against a gRPC server with its JSON report read back.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { randomUUID } from 'node:crypto';
import type { AwsClients } from '../activities/awsClients';
import { configStoreFor } from '../activities/storage/configStore';
import { loadStorageSettings } from '../common/settings';
import { issueDevToken } from '../scripts/stack/localIssuer';
import { repoRoot, toolPath } from '../scripts/stack/index';
import { closedPort } from '../test/support/ports';

const run = promisify(execFile);

/**
 * Every call comes from one service token, thousands a second: far past the default per-identity and
 * per-tenant limits, which are sized for real callers. The limiter still runs on every call; its limits
 * are only set above what one machine can send.
 */
const BENCH_RATE_LIMITS = {
  RATE_LIMIT_IDENTITY_PER_SECOND: '1000000',
  RATE_LIMIT_IDENTITY_BURST: '1000000',
  RATE_LIMIT_TENANT_PER_SECOND: '1000000',
  RATE_LIMIT_TENANT_BURST: '1000000',
};

/** The key the read benchmarks read, and its value: a cached GetConfig of it answers 134 bytes. */
export const READ_KEY = 'tenant_config_featureFlags';
const READ_VALUE = '{"newCheckout":true,"darkMode":false}';

/** A fresh tenant holding READ_KEY live, and a service token of it (an instance's reads). */
export async function seedReadTenant(clients: AwsClients, label: string): Promise<{ token: string }> {
  const tenantId = `${label}-${randomUUID().slice(0, 8)}`;
  await configStoreFor(clients, loadStorageSettings()).put({ tenantId, key: READ_KEY }, READ_VALUE, {
    expectedVersion: 0,
    makeLive: true,
  });
  return { token: issueDevToken({ tenantId, groups: ['services'], ttlSeconds: 3600 }) };
}

export interface ServiceProcess {
  readonly process: ChildProcess;
  readonly grpcPort: number;
}

/**
 * This checkout compiled by tsc, as the image builds it (Dockerfile), into a folder of .local/: what a
 * deployment runs is plain JavaScript, not tsx's on-the-fly transform (whose helpers run on every
 * closure a call makes). Returns the folder; run `node <folder>/server/main.js`.
 */
export async function compileForBench(): Promise<string> {
  const outDir = path.join(repoRoot, '.local', 'bench-dist');
  await run(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', '.', '--outDir', outDir], {
    cwd: repoRoot,
  });
  return outDir;
}

/** How a server is started: compiled (`compiled`, from compileForBench) or from source through tsx. */
export interface NodeLaunch {
  readonly compiled?: string;
  readonly nodeOptions?: readonly string[];
}

/** `node` arguments that run `source` (a .ts path in the checkout) as `launch` says. */
export function nodeArgs(source: string, launch: NodeLaunch = {}): string[] {
  const entry = launch.compiled
    ? [path.join(launch.compiled, source.replace(/\.ts$/, '.js'))]
    : ['--require', 'tsx/cjs', source];
  return [...(launch.nodeOptions ?? []), ...entry];
}

/** server/main.ts in a process of its own, on free ports, against the local stack in `process.env`. */
export async function startConfigService(
  env: Record<string, string>,
  launch: NodeLaunch = {},
): Promise<ServiceProcess> {
  const [grpcPort, httpPort] = [await closedPort(), await closedPort()];
  const child = spawn(process.execPath, nodeArgs('server/main.ts', launch), {
    cwd: repoRoot,
    env: {
      ...process.env,
      ...(launch.compiled ? { NODE_ENV: 'production' } : {}),
      GRPC_PORT: String(grpcPort),
      HTTP_PORT: String(httpPort),
      ...BENCH_RATE_LIMITS,
      LOG_LEVEL: 'warn',
      // Nothing scrapes it here, and two services at once must not share the default port.
      METRICS_PORT: '0',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  for (let attempt = 0; attempt < 150; attempt += 1) {
    if (child.exitCode !== null) throw new Error(`the config service exited with ${child.exitCode}`);
    const healthy = await fetch(`http://127.0.0.1:${httpPort}/healthz`).then(
      (response) => response.ok,
      () => false,
    );
    if (healthy) return { process: child, grpcPort };
    await sleep(200);
  }
  child.kill('SIGKILL');
  throw new Error('the config service did not answer /healthz within 30 s');
}

export function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/** The parts of ghz's JSON report read here (durations in nanoseconds). */
export interface GhzReport {
  count: number;
  rps: number;
  average: number;
  latencyDistribution: { percentage: number; latency: number }[] | null;
  statusCodeDistribution: Record<string, number>;
  errorDistribution?: Record<string, number> | null;
}

export interface GhzLoad {
  readonly port: number;
  readonly request: Record<string, unknown>;
  readonly token?: string;
  /** Other metadata every call sends (a `traceparent`, say). */
  readonly metadata?: Readonly<Record<string, string>>;
  readonly concurrency: number;
  readonly connections: number;
  readonly duration: string;
  /** GOMAXPROCS of ghz: bounds the cores the load generator itself may take from the server. */
  readonly cpus?: number;
}

/** One ghz run of GetConfig; throws when any call failed (a fast error is no result). */
export async function ghzGetConfig(load: GhzLoad): Promise<GhzReport> {
  const { stdout } = await run(
    toolPath('ghz'),
    [
      '--insecure',
      '--proto',
      path.join(repoRoot, 'proto', 'config.proto'),
      '--call',
      'configsvc.v1.ConfigService/GetConfig',
      '--data',
      JSON.stringify(load.request),
      ...(load.token || load.metadata
        ? [
            '--metadata',
            JSON.stringify({
              ...load.metadata,
              ...(load.token ? { authorization: `Bearer ${load.token}` } : {}),
            }),
          ]
        : []),
      '--concurrency',
      String(load.concurrency),
      '--connections',
      String(load.connections),
      ...(load.cpus ? ['--cpus', String(load.cpus)] : []),
      '--duration',
      load.duration,
      // Calls still in flight when the time is up finish and count, rather than being cut off as errors.
      '--duration-stop',
      'wait',
      '--format',
      'json',
      `127.0.0.1:${load.port}`,
    ],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  const report = JSON.parse(stdout) as GhzReport;
  const failures = Object.entries(report.statusCodeDistribution).filter(([code]) => code !== 'OK');
  if (failures.length > 0 || report.count === 0) {
    throw new Error(
      `calls failed: ${JSON.stringify(report.statusCodeDistribution)} ${JSON.stringify(report.errorDistribution ?? {})}`,
    );
  }
  return report;
}

export const nsToMs = (ns: number) => Math.round((ns / 1e6) * 1000) / 1000;

/** A latency percentile of a report, in milliseconds (NaN when ghz did not report it). */
export function percentileMs(report: GhzReport, percentage: number): number {
  return nsToMs(report.latencyDistribution?.find((entry) => entry.percentage === percentage)?.latency ?? NaN);
}

export function writeDocument(document: unknown): Promise<void> {
  return new Promise((resolve) =>
    process.stdout.write(`${JSON.stringify(document, null, 2)}\n`, () => resolve()),
  );
}
