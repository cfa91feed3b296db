import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { RolloutPlan } from '../../common/rollout';
import { until } from './until';
import { allAtOnce } from './plans';

/** The out-of-band path as tests drive it: the plan a hot key gets, and the local EventBridge stand-in. */

export const ALL_AT_ONCE: RolloutPlan = allAtOnce();

/**
 * Points the real Lambda handler, run in this process, at `taskQueue` with a default plan without bakes
 * (it builds its clients from the environment on its first event, as in a Lambda container), plus
 * `extra`. Answers the function that puts the environment back.
 */
export function useHandlerEnvironment(taskQueue: string, extra: Record<string, string> = {}): () => void {
  const saved = { ...process.env };
  Object.assign(process.env, {
    TEMPORAL_TASK_QUEUE: taskQueue,
    OUT_OF_BAND_ROLLOUT_PLAN: JSON.stringify({ bakeSeconds: 0 }),
    ...extra,
  });
  return () => {
    process.env = saved;
  };
}

/** One hand-over of an event to the handler, as the stand-in logs it. */
export interface Delivery {
  readonly parameter: string;
  readonly outcome: string;
  readonly plan?: string;
  readonly workflowId?: string;
  readonly runId?: string;
}

export interface StandIn {
  /** The deliveries logged so far, oldest first. */
  deliveries(): Delivery[];
  /** Everything it wrote, for a failure's message. */
  log(): string;
  stop(): void;
}

const REPO = path.join(__dirname, '..', '..');

/**
 * scripts/local-eventbridge.ts watching one tenant's subtree, on a rule of its own, handing events to
 * the real handler, which rolls out on `taskQueue` with a default plan without bakes.
 */
export async function startEventBridgeStandIn(options: {
  tenantId: string;
  taskQueue: string;
  env?: Record<string, string>;
}): Promise<StandIn> {
  let out = '';
  let all = '';
  const child: ChildProcess = spawn(
    process.execPath,
    ['--require', 'tsx/cjs', 'scripts/local-eventbridge.ts'],
    {
      cwd: REPO,
      env: {
        ...process.env,
        TEMPORAL_TASK_QUEUE: options.taskQueue,
        LOCAL_EVENTBRIDGE_PORT: '0',
        LOCAL_EVENTBRIDGE_PATH: `/config-service/${options.tenantId}`,
        LOCAL_EVENTBRIDGE_RULE: `test-${randomUUID().slice(0, 8)}`,
        LOCAL_EVENTBRIDGE_POLL_MS: '300',
        OUT_OF_BAND_ROLLOUT_PLAN: JSON.stringify({ bakeSeconds: 0 }),
        LOG_LEVEL: 'info',
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    all += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => (all += chunk.toString()));
  await until('the stand-in to watch', async () => all.includes('watching Parameter Store') || undefined, 60);
  return {
    deliveries: () =>
      out
        .split('\n')
        .slice(0, -1) // the last piece is a line still being written
        .filter((line) => line.includes('"message":"delivered"'))
        .map((line) => JSON.parse(line) as Delivery),
    log: () => all,
    stop: () => child.kill('SIGTERM'),
  };
}
