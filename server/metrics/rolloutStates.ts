import type { Client } from '@temporalio/client';
import { ROLLOUT_STATES, ROLLOUT_WORKFLOW_TYPE, type RolloutState } from '../../common/rollout';
import type { Logger } from '../../common/logger';
import type { ServerMetrics } from './serverMetrics';

/** The states a running rollout can be in; the terminal ones are counted by the worker as outcomes. */
const RUNNING_STATES = ROLLOUT_STATES.filter(
  (state): state is Exclude<RolloutState, 'SUCCEEDED' | 'ROLLED_BACK' | 'FAILED'> =>
    !['SUCCEEDED', 'ROLLED_BACK', 'FAILED'].includes(state),
);

/** A scrape must answer even when Temporal does not: its visibility counts are given up after this. */
const COUNT_TIMEOUT_MS = 3000;

/**
 * `cfg_rollouts{state}`: running rollouts per state, counted in Temporal's visibility when Prometheus
 * scrapes. Counted rather than tracked by transitions because visibility is the truth whichever replica
 * or worker moved the rollout, and a restart loses nothing; the cost is one count query per state and
 * scrape, bounded by the state list. A failed count sets `cfg_rollout_visibility_up` to 0 and leaves the
 * gauge without samples, so an alert on a stuck state cannot fire or clear on missing data.
 */
export function countRolloutsByState(metrics: ServerMetrics, temporal: Client, logger: Logger): void {
  let counts: ReadonlyMap<RolloutState, number> | undefined;
  let counting: Promise<void> | undefined;
  // Both gauges are collected side by side in one scrape: they share its one round of counts.
  const count = () =>
    (counting ??= withTimeout(
      Promise.all(RUNNING_STATES.map(async (state) => [state, await countIn(temporal, state)] as const)),
      COUNT_TIMEOUT_MS,
    )
      .then(
        (pairs) => {
          counts = new Map(pairs);
        },
        (error: unknown) => {
          counts = undefined;
          logger.warn('could not count rollouts by state for /metrics', { error });
        },
      )
      .finally(() => {
        counting = undefined;
      }));
  metrics.gauge({
    name: 'cfg_rollouts',
    help: 'Running rollouts by state, from Temporal visibility at scrape time',
    labelNames: ['state'],
    async collect(gauge) {
      await count();
      gauge.reset();
      for (const [state, running] of counts ?? []) gauge.set({ state }, running);
    },
  });
  metrics.gauge({
    name: 'cfg_rollout_visibility_up',
    help: '1 when this scrape counted rollouts by state in Temporal visibility, 0 when it could not',
    async collect(gauge) {
      await count();
      gauge.set(counts ? 1 : 0);
    },
  });
}

async function countIn(temporal: Client, state: RolloutState): Promise<number> {
  const query = `WorkflowType = '${ROLLOUT_WORKFLOW_TYPE}' AND ExecutionStatus = 'Running' AND RolloutState = '${state}'`;
  return (await temporal.workflow.count(query)).count;
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`Temporal visibility did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
