import { localStackEnv, stackUp } from '../scripts/stack/index';

// jest runs the global setup and teardown in one process, so globalThis carries the list across.
const globals = globalThis as { componentsStartedBySetup?: string[] };

/** The components this run started, which the teardown stops; reused ones belong to someone else. */
export function componentsStartedBySetup(): string[] {
  return globals.componentsStartedBySetup ?? [];
}

/**
 * Starts the local stack unless it is already running. The workers are spawned after this and
 * inherit process.env, so every test file talks to the stack through the usual AWS and Temporal
 * variables.
 */
export default async function globalSetup(): Promise<void> {
  Object.assign(process.env, localStackEnv());
  // Tests start reconciliation passes themselves: a scheduled fleet-wide pass of a worker a test spawns
  // would reach into the fleets other test files hold in deliberate states.
  process.env.RECONCILE_INTERVAL_SECONDS ??= '0';
  const { started } = await stackUp({ tiers: ['infrastructure'] });
  globals.componentsStartedBySetup = started;
}
