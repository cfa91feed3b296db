/**
 * What the benchmarks share, importable without running any of them: the one-wave plan their rollouts
 * start from, the set-up of an in-process fleet (bench/fleet.ts) and the figures' arithmetic. Each
 * benchmark's own file holds what it measures and runs it only when started as a script.
 */
import type { AwsClients } from '../activities/awsClients';
import type { Logger } from '../common/logger';
import type { RolloutPlan } from '../common/rollout';
import { loadRolloutWorkerSettings, loadStorageSettings, loadTemporalSettings } from '../common/settings';
import { type FleetDeps, fleetKeysFromEnv } from './fleet';

/** All at once: one wave of 100%, no bake, no approval, no failure allowed. */
export const ONE_WAVE_PLAN: RolloutPlan = {
  strategy: { kind: 'explicit', waves: ['100%'] },
  bakeSeconds: 0,
  approval: 'none',
  maxFailures: 0,
};

/** What bench/fleet.ts starts instances with: the stack's Cloud Map namespace and the local push keys. */
export function fleetDeps(clients: AwsClients, logger: Logger, log: (line: string) => void): FleetDeps {
  return {
    clients,
    namespace: loadRolloutWorkerSettings().cloudMapNamespace,
    ...fleetKeysFromEnv(),
    logger,
    log,
  };
}

/**
 * A rollout worker's settings on a task queue of the benchmark's own. No config service runs beside an
 * in-process worker, so there is no read cache to wait out after promoting (CONFIG_CACHE_TTL_MS=0):
 * what is measured is the fan-out alone.
 */
export function inProcessWorkerSettings(taskQueue: string, logger: Logger) {
  return {
    temporal: loadTemporalSettings({ ...process.env, TEMPORAL_TASK_QUEUE: taskQueue }),
    storage: loadStorageSettings(),
    rollout: loadRolloutWorkerSettings({ ...process.env, CONFIG_CACHE_TTL_MS: '0' }),
    logger,
  };
}

/** The middle value; of an even count, the mean of the two middle ones, rounded. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : Math.round((sorted[middle - 1]! + sorted[middle]!) / 2);
}

export function round2(value: number): number {
  return Math.round(value * 100) / 100;
}

/** An unexpected error for the progress log: its stack where it has one. */
export function errorStack(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}
