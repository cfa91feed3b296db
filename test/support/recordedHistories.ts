import type { PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { type WorkflowBundleWithSourceMap, Worker } from '@temporalio/worker';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { workerDataConverter } from '../../server/payloadEncryption/workerDataConverter';
import { testCodec } from './timeSkipping';

/** A history recorded by an earlier version of the workflow code, from test/workflows/histories. */
export function recordedHistory(file: string): temporal.api.history.v1.History {
  return temporal.api.history.v1.History.fromObject(
    JSON.parse(readFileSync(path.join(__dirname, '..', 'workflows', 'histories', file), 'utf8')) as Record<
      string,
      unknown
    >,
  );
}

/** The activity types `history` scheduled, in order: what a workflow asked its workers to do. */
export function scheduled(history: temporal.api.history.v1.IHistory): string[] {
  return (history.events ?? []).flatMap((event) =>
    event.eventType === temporal.api.enums.v1.EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
      ? [event.activityTaskScheduledEventAttributes?.activityType?.name ?? '?']
      : [],
  );
}

/** Replays `history` with the current workflow code, its payloads decoded as the worker decodes them. */
export async function expectReplays(
  workflowBundle: WorkflowBundleWithSourceMap,
  history: temporal.api.history.v1.IHistory,
  codec: PayloadCodec = testCodec,
): Promise<void> {
  await expect(
    Worker.runReplayHistory({ workflowBundle, dataConverter: workerDataConverter(codec) }, history),
  ).resolves.toBeUndefined();
}
