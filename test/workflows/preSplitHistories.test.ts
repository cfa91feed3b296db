import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import type { RolloutResult } from '../../common/rollout';
import { expectReplays, recordedHistory } from '../support/recordedHistories';
import { bundleWorkflows } from '../support/timeSkipping';

/**
 * Issue 12 split the rollout workflow into modules with no change in the commands it issues. Beside the
 * staged rollout recorded for it (rolloutWorkflow.test.ts), these fourteen runs were recorded with the
 * code before the split (commit 9580fe4) on the time-skipping server, each down a path where steering or
 * a failure could race the workflow's next command, and replay with today's code.
 */
const Type = temporal.api.enums.v1.EventType;

const RECORDED: readonly {
  readonly path: string;
  readonly events: number;
  readonly state: RolloutResult['state'];
  readonly updates: readonly string[];
}[] = [
  { path: 'abort-awaiting-approval', events: 72, state: 'ROLLED_BACK', updates: ['abort'] },
  { path: 'abort-mid-bake', events: 61, state: 'ROLLED_BACK', updates: ['abort'] },
  { path: 'cancel-mid-bake', events: 62, state: 'ROLLED_BACK', updates: [] },
  { path: 'check-activity-fails', events: 62, state: 'ROLLED_BACK', updates: [] },
  { path: 'empty-fleet', events: 29, state: 'ROLLED_BACK', updates: [] },
  { path: 'health-fails-rolls-back', events: 88, state: 'ROLLED_BACK', updates: [] },
  { path: 'pause-then-abort', events: 88, state: 'ROLLED_BACK', updates: ['pause', 'approve', 'abort'] },
  { path: 'pause-times-out', events: 71, state: 'ROLLED_BACK', updates: ['pause'] },
  { path: 'promote-fails-after', events: 135, state: 'SUCCEEDED', updates: [] },
  { path: 'promote-fails-before', events: 128, state: 'ROLLED_BACK', updates: [] },
  { path: 'read-cache-wait', events: 148, state: 'SUCCEEDED', updates: [] },
  { path: 'removal', events: 121, state: 'SUCCEEDED', updates: [] },
  { path: 'reverts-retried', events: 92, state: 'ROLLED_BACK', updates: [] },
  { path: 'sweep-fails-and-read-caches', events: 128, state: 'SUCCEEDED', updates: [] },
];

let bundle: WorkflowBundleWithSourceMap;

beforeAll(async () => {
  bundle = await bundleWorkflows();
}, 120_000);

test.each(RECORDED)(
  'a rollout recorded before the split ($path) replays with the current code',
  async (run) => {
    const recorded = recordedHistory(`rollout-pre-split-${run.path}.json`);
    const events = recorded.events ?? [];
    expect(events).toHaveLength(run.events);
    expect(
      events
        .filter((event) => event.eventType === Type.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED)
        .map((event) => event.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name),
    ).toEqual(run.updates);
    const completed = events.at(-1)?.workflowExecutionCompletedEventAttributes;
    const result = JSON.parse(
      Buffer.from(completed?.result?.payloads?.[0]?.data ?? []).toString('utf8'),
    ) as RolloutResult;
    expect(result.state).toBe(run.state);
    await expectReplays(bundle, recorded);
  },
);
