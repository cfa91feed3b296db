import { Client, Connection } from '@temporalio/client';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  COMPONENTS,
  localStackEnv,
  PORTS,
  pidFile,
  portAnswers,
  resolvePort,
  stackDown,
  stackReset,
  stackUp,
  STACK_HOST,
} from '../../scripts/stack/index';
import { closedPort } from './ports';

/** The servers a test may kill: the stack's keepers of state. */
export const STATEFUL_SERVERS = ['temporal', 'dynamodb', 'moto'] as const;
export type StatefulServer = (typeof STATEFUL_SERVERS)[number];

/**
 * A private copy of the local stack's stateful servers, for a test that kills them: its own free ports,
 * pids, logs and data in a temporary directory (STACK_STATE_DIR), started and provisioned through the
 * stack's own lifecycle, so the stack the other test files share is never touched. While it runs,
 * process.env points at it (what every client and the in-process worker read); `close` gives the
 * shared stack's environment back.
 */
export interface PrivateStack {
  readonly stateDir: string;
  /** Starts (and provisions) whichever of its servers is not running: a restart keeps their data. */
  up(): Promise<void>;
  /** SIGKILLs the named servers and waits until their ports are free. */
  kill(...names: StatefulServer[]): Promise<void>;
  down(): Promise<void>;
  reset(): Promise<void>;
  withTemporal<T>(fn: (client: Client) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export async function startPrivateStack(label: string): Promise<PrivateStack> {
  const savedEnv = { ...process.env };
  const stateDir = mkdtempSync(path.join(os.tmpdir(), `${label}-`));
  process.env.STACK_STATE_DIR = stateDir;
  for (const setting of [PORTS.temporal, PORTS.temporalUi, PORTS.temporalMetrics, PORTS.dynamodb, PORTS.moto])
    process.env[setting.envVar] = String(await closedPort());
  Object.assign(process.env, localStackEnv());
  const servers = [...STATEFUL_SERVERS];
  const up = async () => {
    await stackUp({ tiers: ['infrastructure'], only: servers }, () => {});
  };
  await up();
  return {
    stateDir,
    up,
    async kill(...names) {
      for (const name of names) process.kill(-Number(readFileSync(pidFile(name), 'utf8').trim()), 'SIGKILL');
      for (const name of names) {
        const port = resolvePort(COMPONENTS.find((component) => component.name === name)!.port);
        for (let attempt = 0; await portAnswers(port); attempt += 1) {
          if (attempt > 100) throw new Error(`port ${port} still answers 10 s after SIGKILL`);
          await sleep(100);
        }
      }
    },
    async down() {
      await stackDown(servers, () => {});
    },
    async reset() {
      await stackReset(() => {});
    },
    async withTemporal(fn) {
      const connection = await Connection.connect({ address: `${STACK_HOST}:${process.env.TEMPORAL_PORT}` });
      try {
        return await fn(new Client({ connection }));
      } finally {
        await connection.close();
      }
    },
    async close() {
      await stackDown(servers, () => {});
      process.env = savedEnv;
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}
