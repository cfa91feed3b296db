import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';

/**
 * The platform's own processes as tests run them when a fault needs a real process to kill: Node itself
 * with tsx's loader, not the tsx launcher, which runs the program in a child of its own, so killing the
 * launcher would leave the program running.
 */
const REPO = path.join(__dirname, '..', '..');

export function spawnSource(sourceFile: string, env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, ['--require', 'tsx/cjs', sourceFile], {
    cwd: REPO,
    // Metrics on ports of the system's choosing: several of these run at once, beside the stack's own.
    env: { ...process.env, LOG_LEVEL: 'error', METRICS_PORT: '0', WORKER_RUNTIME_METRICS_PORT: '0', ...env },
    stdio: 'ignore',
  });
}

/** A rollout worker serving `queue`, its health server on a port of its own choosing. */
export function spawnWorker(queue: string): ChildProcess {
  return spawnSource('server/worker.ts', { TEMPORAL_TASK_QUEUE: queue, WORKER_HEALTH_PORT: '0' });
}

/** A config service on the given ports, its read cache living 1 s, as the test server's. */
export function spawnConfigService(ports: { HTTP_PORT: string; GRPC_PORT: string }): ChildProcess {
  return spawnSource('server/main.ts', { ...ports, BIND_ADDRESS: '127.0.0.1', CONFIG_CACHE_TTL_MS: '1000' });
}

/** SIGKILL, resolved once the process is gone. */
export async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
