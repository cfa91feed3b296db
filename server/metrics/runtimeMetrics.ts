import { Runtime } from '@temporalio/worker';
import type { MetricsSettings } from '../../common/settings';

/**
 * Buckets for the workflow's own histogram (workflows/rolloutMetrics.ts), in seconds: a rollout's start
 * to its last acknowledgement spans seconds (one wave, no bake) to hours (bakes, approvals).
 */
const START_TO_LAST_ACK_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400];

/**
 * Installs the Temporal Runtime with its Prometheus exporter: the SDK's own metrics (task latencies,
 * slots, sticky cache, polls) and what workflows record through `metricMeter`, on their own port.
 * Counters keep the names workflows give them (`..._total`); the SDK's own are prefixed `temporal_`.
 */
export function installRuntimeMetrics(settings: MetricsSettings): void {
  Runtime.install({
    telemetryOptions: {
      metrics: {
        prometheus: {
          bindAddress: `${settings.bindAddress}:${settings.workerRuntimePort}`,
          histogramBucketOverrides: {
            cfg_rollout_start_to_last_ack_seconds: START_TO_LAST_ACK_BUCKETS,
          },
        },
      },
    },
  });
}
