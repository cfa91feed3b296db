import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ownerEnv } from './owner';
import { processIds, readProcFile } from './procfs';
import { logsDir, pidsDir, repoRoot, stateDir } from './paths';

/** How to start a component's process. */
export interface LaunchSpec {
  command: string;
  args: string[];
  env?: Record<string, string>;
}

/** How a process that was supposed to keep running ended. */
export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const STOP_GRACE_MS = 10_000;
const KILL_WAIT_MS = 3_000;
const POLL_MS = 100;

export function logFile(name: string): string {
  return path.join(logsDir(), `${name}.log`);
}

export function pidFile(name: string): string {
  return path.join(pidsDir(), `${name}.pid`);
}

/**
 * The pid from the component's pid file, if that process is still the one we started. Pids are
 * reused (after a reboot .local/ keeps stale pid files), so the process must still be running our
 * command; a zombie has an empty command line and counts as gone. Linux only: reads /proc.
 */
export function runningPid(name: string, command: string): number | undefined {
  const file = pidFile(name);
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  const commandLine = readProcFile(pid, 'cmdline')?.split('\0') ?? [];
  return commandLine.includes(command) ? pid : undefined;
}

export function removePidFile(name: string): void {
  rmSync(pidFile(name), { force: true });
}

/**
 * Starts the process in its own process group, detached from ours, with its output in the log:
 * it outlives the command that started it, and stopping the group also stops its children.
 */
export function spawnDetached(name: string, spec: LaunchSpec): ChildProcess {
  mkdirSync(logsDir(), { recursive: true });
  mkdirSync(pidsDir(), { recursive: true });
  const log = openSync(logFile(name), 'w');
  try {
    const child = spawn(spec.command, spec.args, {
      cwd: repoRoot,
      // Names this stack in the process's environment, so another checkout can tell whose it is.
      env: { ...process.env, ...spec.env, ...ownerEnv({ checkout: repoRoot, stateDir: stateDir() }) },
      detached: true,
      stdio: ['ignore', log, log],
    });
    child.unref();
    if (child.pid !== undefined) writeFileSync(pidFile(name), `${child.pid}\n`);
    return child;
  } finally {
    closeSync(log);
  }
}

/** Resolves when the child exits, with how it ended; a failed spawn (ENOENT, EACCES) counts as exit 127. */
export function exitOf(child: ChildProcess): Promise<ExitInfo> {
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', () => resolve({ code: 127, signal: null }));
  });
}

/** SIGTERM to the whole process group, then SIGKILL to whatever is left after the grace period. */
export async function stopProcessGroup(pgid: number): Promise<void> {
  signalGroup(pgid, 'SIGTERM');
  if (await groupEnds(pgid, STOP_GRACE_MS)) return;
  signalGroup(pgid, 'SIGKILL');
  await groupEnds(pgid, KILL_WAIT_MS);
}

export function lastLogLines(name: string, count = 20): string {
  const file = logFile(name);
  if (!existsSync(file)) return '(no log)';
  const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
  return lines.slice(-count).join('\n') || '(log is empty)';
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

async function groupEnds(pgid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!groupHasLiveMember(pgid)) return true;
    await sleep(POLL_MS);
  }
  return !groupHasLiveMember(pgid);
}

/**
 * kill(-pgid, 0) also succeeds for zombies, which stay until their parent reaps them (the parent
 * may be this very process, or an init that never reaps), so look at each process's state instead.
 */
function groupHasLiveMember(pgid: number): boolean {
  return processIds().some((pid) => {
    const stat = readProcFile(pid, 'stat');
    // Fields after the command name, which is in parentheses and may contain spaces.
    const fields = stat?.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields !== undefined && Number(fields[2]) === pgid && fields[0] !== 'Z';
  });
}
