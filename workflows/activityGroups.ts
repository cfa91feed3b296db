import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { RolloutActivities } from '../activities/rolloutActivities';

// The rollout's activities, proxied once per kind of work with the timeouts and retries of that kind.
// Store and Cloud Map calls are single requests: short, retried with backoff through a backend blip.
const singleCallOptions = {
  startToCloseTimeout: '30 seconds',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    maximumAttempts: 10,
  },
} as const;
export const storage = proxyActivities<RolloutActivities>(singleCallOptions);
// Preparing and writing the candidate run on the worker that runs the workflow task, inside it: no
// activity task to dispatch and no workflow task to wait for after each, so the first push leaves two
// round trips sooner, and each is one history event (a marker) instead of six. Retried as `storage` is:
// the write is idempotent by the rollout's write id, and a worker lost mid-call loses its workflow task,
// which another worker runs again from the start, calls included.
export const localStorage = proxyLocalActivities<RolloutActivities>(singleCallOptions);
export const discovery = proxyActivities<RolloutActivities>(singleCallOptions);
// A shard of a wave's pushes (workflows/shardedFleet.ts) runs inside one activity (retries per instance
// happen there); heartbeats let a crashed worker's shard be retried on another worker within the
// heartbeat timeout. Pushes are idempotent.
export const fleet = proxyActivities<RolloutActivities>({
  startToCloseTimeout: '15 minutes',
  heartbeatTimeout: '30 seconds',
  retry: {
    initialInterval: '2 seconds',
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
    maximumAttempts: 5,
  },
});

// Replicas answer a notice from memory; any failure falls back to waiting their caches out.
export const readCaches = proxyActivities<RolloutActivities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '500 milliseconds', maximumAttempts: 2 },
});
