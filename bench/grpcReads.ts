/**
 * npm run bench:grpc: the config service's gRPC GetConfig (a cached read with a valid token) against a
 * bare @grpc/grpc-js server answering the same message (bench/grpcEchoServer.ts), in the same run.
 *
 * Goal under test (issue 10): calls/s at least 0.8x the echo server's and p50 at most 1.3x, at 50 and
 * 100 concurrent calls. Both servers run as processes of their own on this machine, one Node.js process
 * each, compiled from this checkout by tsc as the image is (node dist/server/main.js); ghz is held to
 * one core (--cpus 1) for both. Runs alternate between
 * the two servers, three per concurrency, and the medians are compared.
 *
 * `--profile DIR` starts both servers with `node --cpu-prof --cpu-prof-dir DIR` (each writes its profile
 * when it stops, named by its pid, which stderr gives); bench/README.md says how to read them.
 *
 * stdout carries exactly one JSON document; progress goes to stderr. Exits non-zero when any call fails.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { createAwsClients, destroyAwsClients } from '../activities/awsClients';
import { loadProto } from '../common/proto';
import { loadAwsSettings } from '../common/settings';
import type { ProtoGrpcType } from '../gen/proto/config';
import type { GetConfigResponse } from '../gen/proto/configsvc/v1/GetConfigResponse';
import { localStackEnv, repoRoot, stackDown, stackUp } from '../scripts/stack/index';
import {
  compileForBench,
  ghzGetConfig,
  type GhzReport,
  type NodeLaunch,
  nodeArgs,
  nsToMs,
  percentileMs,
  startConfigService,
  stopProcess,
  READ_KEY,
  seedReadTenant,
  writeDocument,
} from './grpcLoad';
import { errorMessage } from '../common/errors';

const DURATION = '5s';
const WARMUP = '2s';
const CONCURRENCIES = [50, 100] as const;
const RUNS = 3;
const CONNECTIONS = 4;
const GHZ_CPUS = 1;
const GOALS = { rps: 0.8, p50: 1.3 };

const log = (line: string) => process.stderr.write(`[bench:grpc] ${line}\n`);

interface Server {
  readonly name: 'service' | 'echo';
  readonly process: ChildProcess;
  readonly port: number;
  readonly token: string;
}

interface Measurement {
  readonly server: string;
  readonly concurrency: number;
  readonly run: number;
  readonly calls: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly meanMs: number;
  /** The server process's CPU time (user + system) per call, microseconds. */
  readonly cpuUsPerCall: number;
}

async function main(): Promise<number> {
  const profileDir = profileDirFromArgs();
  Object.assign(process.env, localStackEnv());
  const stack = await stackUp({ tiers: ['infrastructure'] }, (line) => log(`stack: ${line}`));
  const clients = createAwsClients(loadAwsSettings());
  const started: ChildProcess[] = [];
  try {
    const { token } = await seedReadTenant(clients, 'bench-grpc');
    log('compiling this checkout with tsc, as the image does');
    const launch = {
      compiled: await compileForBench(),
      nodeOptions: profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [],
    };
    const service = await startConfigService({}, launch);
    started.push(service.process);
    const answer = await getConfig(service.grpcPort, token);
    const echo = await startEchoServer(answer, launch);
    started.push(echo.process);
    const answerBytes = serializedSize(answer);
    if (echo.answerBytes !== answerBytes)
      throw new Error(`the echo answers ${echo.answerBytes} bytes, the service ${answerBytes}`);
    log(`answer: ${answerBytes} bytes; service pid ${service.process.pid}, echo pid ${echo.process.pid}`);

    const servers: Server[] = [
      { name: 'service', process: service.process, port: service.grpcPort, token },
      // The same request to both, token included: carrying a 1 KB header is grpc-js's cost, not the
      // service's. The echo server never looks at it.
      { name: 'echo', process: echo.process, port: echo.port, token },
    ];
    for (const server of servers) await load(server, CONCURRENCIES[0], WARMUP);
    const measurements: Measurement[] = [];
    for (const concurrency of CONCURRENCIES) {
      for (let runIndex = 1; runIndex <= RUNS; runIndex += 1) {
        // Alternate which goes first, so drift in the machine's load falls on both alike.
        const order = runIndex % 2 === 1 ? servers : [...servers].reverse();
        for (const server of order) {
          const measurement = await measure(server, concurrency, runIndex);
          measurements.push(measurement);
          log(
            `c=${concurrency} run ${runIndex} ${server.name}: ${measurement.rps} calls/s, p50 ${measurement.p50Ms} ms, ${measurement.cpuUsPerCall} µs CPU/call`,
          );
        }
      }
    }
    await Promise.all(started.map(stopProcess));
    await writeDocument({
      benchmark: 'grpc-reads',
      machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version },
      load: {
        tool: 'ghz',
        call: 'configsvc.v1.ConfigService/GetConfig',
        duration: DURATION,
        runs: RUNS,
        concurrencies: CONCURRENCIES,
        connections: CONNECTIONS,
        ghzCpus: GHZ_CPUS,
        answerBytes,
      },
      profile: profileDir ?? null,
      medians: medians(measurements),
      results: measurements,
      ratios: ratios(measurements),
    });
    return 0;
  } finally {
    await Promise.all(started.map(stopProcess));
    destroyAwsClients(clients);
    await stackDown(stack.started, (line) => log(`stack: ${line}`));
  }
}

function profileDirFromArgs(): string | undefined {
  const index = process.argv.indexOf('--profile');
  if (index < 0) return undefined;
  const dir = process.argv[index + 1];
  if (!dir) throw new Error('--profile needs a directory');
  return path.resolve(dir);
}

function load(server: Server, concurrency: number, duration: string): Promise<GhzReport> {
  return ghzGetConfig({
    port: server.port,
    request: { key: READ_KEY },
    token: server.token,
    concurrency,
    connections: CONNECTIONS,
    duration,
    cpus: GHZ_CPUS,
  });
}

async function measure(server: Server, concurrency: number, run: number): Promise<Measurement> {
  const cpuBefore = cpuMs(server.process.pid!);
  const report = await load(server, concurrency, DURATION);
  const cpu = cpuMs(server.process.pid!) - cpuBefore;
  return {
    server: server.name,
    concurrency,
    run,
    calls: report.count,
    rps: Math.round(report.rps),
    p50Ms: percentileMs(report, 50),
    p99Ms: percentileMs(report, 99),
    meanMs: nsToMs(report.average),
    cpuUsPerCall: Math.round(((cpu * 1000) / report.count) * 10) / 10,
  };
}

/** User plus system CPU time of a process so far, milliseconds (/proc/PID/stat, in clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

type Medians = Record<string, { rps: number; p50Ms: number; cpuUsPerCall: number }>;

function medians(measurements: readonly Measurement[]): Medians {
  const out: Medians = {};
  for (const concurrency of CONCURRENCIES) {
    for (const name of ['service', 'echo']) {
      const runs = measurements.filter((m) => m.server === name && m.concurrency === concurrency);
      out[`${name}_c${concurrency}`] = {
        rps: median(runs.map((m) => m.rps)),
        p50Ms: median(runs.map((m) => m.p50Ms)),
        cpuUsPerCall: median(runs.map((m) => m.cpuUsPerCall)),
      };
    }
  }
  return out;
}

/** The service against the echo server, medians of the same run, per concurrency. */
function ratios(measurements: readonly Measurement[]): Record<string, unknown> {
  const byName = medians(measurements);
  const round = (value: number) => Math.round(value * 100) / 100;
  const out: Record<string, unknown> = {};
  for (const concurrency of CONCURRENCIES) {
    const service = byName[`service_c${concurrency}`]!;
    const echo = byName[`echo_c${concurrency}`]!;
    const rps = round(service.rps / echo.rps);
    const p50 = round(service.p50Ms / echo.p50Ms);
    out[`rps_service_vs_echo_c${concurrency}`] = {
      value: rps,
      goal: `>= ${GOALS.rps}`,
      met: rps >= GOALS.rps,
      measured: { serviceRps: service.rps, echoRps: echo.rps },
    };
    out[`p50_service_vs_echo_c${concurrency}`] = {
      value: p50,
      goal: `<= ${GOALS.p50}`,
      met: p50 <= GOALS.p50,
      measured: { serviceP50Ms: service.p50Ms, echoP50Ms: echo.p50Ms },
    };
  }
  return out;
}

/** One GetConfig through a grpc-js client: the answer the echo server is then started with. */
async function getConfig(port: number, token: string): Promise<GetConfigResponse> {
  const { proto } = loadProto<ProtoGrpcType>('config.proto');
  const client = new proto.configsvc.v1.ConfigService(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${token}`);
  try {
    return await new Promise<GetConfigResponse>((resolve, reject) =>
      client.GetConfig({ key: READ_KEY }, metadata, (error, response) =>
        error || !response ? reject(error ?? new Error('no answer')) : resolve(response),
      ),
    );
  } finally {
    client.close();
  }
}

function serializedSize(answer: GetConfigResponse): number {
  const { proto } = loadProto<ProtoGrpcType>('config.proto');
  return proto.configsvc.v1.ConfigService.service.GetConfig.responseSerialize(answer).length;
}

async function startEchoServer(
  answer: GetConfigResponse,
  launch: NodeLaunch,
): Promise<{ process: ChildProcess; port: number; answerBytes: number }> {
  const child = spawn(process.execPath, nodeArgs('bench/grpcEchoServer.ts', launch), {
    cwd: repoRoot,
    env: { ...process.env, NODE_ENV: 'production', ECHO_ANSWER: JSON.stringify(answer) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('\n')) resolve(out.split('\n')[0]!);
    });
    child.once('exit', (code) => reject(new Error(`the echo server exited with ${code}`)));
  });
  const { port, answerBytes } = JSON.parse(line) as { port: number; answerBytes: number };
  return { process: child, port, answerBytes };
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    log(`failed: ${errorMessage(error)}`);
    process.exit(1);
  },
);
