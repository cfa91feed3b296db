/**
 * The platform's own processes as a benchmark runs them: the config service (REST API and gRPC) and the
 * rollout worker, each `tsx` in a process of its own on free ports, stopped by the benchmark that started
 * them. BENCH_CPU_PROF=<dir> runs each under `node --cpu-prof`, its profile written there at exit.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { type ChildProcess, spawn } from 'node:child_process';
import { repoRoot } from '../scripts/stack/index';
import { closedPort } from '../test/support/ports';

export interface PlatformProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** The HTTP port its /healthz answers on. */
  readonly httpPort: number;
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 60_000;

/** server/main.ts: REST on the returned httpPort, gRPC on a port of its own. */
export async function startConfigService(env: Record<string, string>): Promise<PlatformProcess> {
  const [httpPort, grpcPort] = [await closedPort(), await closedPort()];
  return start('config-service', 'server/main.ts', httpPort, {
    HTTP_PORT: String(httpPort),
    GRPC_PORT: String(grpcPort),
    ...env,
  });
}

/** server/worker.ts: its health endpoint answers once the worker polls Temporal. */
export async function startRolloutWorkerProcess(env: Record<string, string>): Promise<PlatformProcess> {
  const healthPort = await closedPort();
  return start('rollout-worker', 'server/worker.ts', healthPort, {
    WORKER_HEALTH_PORT: String(healthPort),
    ...env,
  });
}

async function start(
  name: string,
  source: string,
  httpPort: number,
  env: Record<string, string>,
): Promise<PlatformProcess> {
  const profileDir = process.env.BENCH_CPU_PROF;
  const profile = profileDir
    ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${name}-${Date.now()}.cpuprofile`]
    : [];
  const child = spawn(process.execPath, [...profile, '--require', 'tsx/cjs', source], {
    cwd: repoRoot,
    // Metrics on free ports: nothing scrapes them here, and two processes must not share the defaults.
    env: { ...process.env, LOG_LEVEL: 'warn', METRICS_PORT: '0', WORKER_RUNTIME_METRICS_PORT: '0', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    // SIGTERM: a graceful stop, which is also when node writes a CPU profile.
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(killer);
  };
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode} before it was ready`);
    const healthy = await fetch(`http://127.0.0.1:${httpPort}/healthz`).then(
      (response) => response.ok,
      () => false,
    );
    if (healthy) return { name, child, httpPort, stop };
    await sleep(200);
  }
  await stop();
  throw new Error(`${name} did not answer /healthz within ${READY_TIMEOUT_MS / 1000} s`);
}
