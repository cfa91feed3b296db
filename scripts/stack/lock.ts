import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { StackError } from './errors';
import { repoRoot, stateDir } from './paths';

// Longer than the slowest start, so a second `up` waits for the first instead of failing.
const LOCK_WAIT_MS = 240_000;
const LOCK_POLL_MS = 250;
const lockFile = () => path.join(stateDir(), 'stack.lock');

/**
 * Runs `fn` while holding the stack's lock. Two `up`s at once (a terminal and a test run) would
 * both start a server, and the loser's clean-up would remove the winner's pid file.
 */
export async function withStackLock<T>(fn: () => Promise<T>): Promise<T> {
  mkdirSync(stateDir(), { recursive: true });
  const deadline = Date.now() + LOCK_WAIT_MS;
  while (!tryTakeLock()) {
    if (Date.now() > deadline) {
      throw new StackError(
        `another stack command (pid ${lockHolder()}) still holds ${path.relative(repoRoot, lockFile())}`,
      );
    }
    await sleep(LOCK_POLL_MS);
  }
  try {
    return await fn();
  } finally {
    rmSync(lockFile(), { force: true });
  }
}

function tryTakeLock(): boolean {
  try {
    writeFileSync(lockFile(), `${process.pid}\n`, { flag: 'wx' });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const holder = lockHolder();
    // A holder that died (killed mid-`up`) leaves its lock behind; it protects nothing any more.
    // An empty file is a lock being taken right now (created, pid not yet written).
    if (holder !== undefined && !isAlive(holder)) rmSync(lockFile(), { force: true });
    return false;
  }
}

function lockHolder(): number | undefined {
  try {
    const pid = Number(readFileSync(lockFile(), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
