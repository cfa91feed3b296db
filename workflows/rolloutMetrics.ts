import { metricMeter, workflowInfo } from '@temporalio/workflow';

/** The gates a wave passes, as `gate` label values. */
export type GateName = 'freeze' | 'alarm' | 'health' | 'canary' | 'approval';

/*
 * What only the workflow knows, counted through the Temporal SDK's workflow meter: emitted by the
 * worker's Runtime (its Prometheus endpoint), and not again when a history replays. Labels are the
 * closed sets below; the Runtime adds namespace, task queue and workflow type. The meter answers only
 * inside a workflow's context, so each metric is made where it is recorded (a cheap handle).
 */

/** A wave ended: `done`, or `rolled_back` for the wave a rollback began in. */
export function countWave(outcome: 'done' | 'rolled_back'): void {
  metricMeter
    .createCounter('cfg_rollout_waves_total', 'waves', 'Rollout waves ended, by outcome')
    .add(1, { outcome });
}

export function countGate(gate: GateName, passed: boolean): void {
  metricMeter
    .createCounter(
      'cfg_rollout_gates_total',
      'checks',
      'Gate decisions at wave boundaries, by gate and outcome',
    )
    .add(1, { gate, outcome: passed ? 'passed' : 'failed' });
}

/** Workflow time (deterministic) since the run's start, so a wait for approval counts in it. */
export function recordLastAck(): void {
  metricMeter
    .createHistogram(
      'cfg_rollout_start_to_last_ack_seconds',
      'float',
      's',
      "Time from a rollout's start to the last acknowledgement of its last wave's pushes",
    )
    .record((Date.now() - workflowInfo().startTime.getTime()) / 1000);
}

export function countFinished(state: 'SUCCEEDED' | 'ROLLED_BACK' | 'FAILED'): void {
  metricMeter
    .createCounter('cfg_rollouts_finished_total', 'rollouts', 'Rollouts ended, by final state')
    .add(1, { state });
}
