import type { Client } from '@temporalio/client';
import type { RolloutRequest } from '../../common/rollout';
import { decodeHistoryEvents } from '../../server/rollouts/decodeHistory';

/** The request a rollout was started with, as its history recorded it (opened with the client's codec). */
export async function recordedRequest(
  client: Client,
  workflowId: string,
  runId?: string,
): Promise<RolloutRequest> {
  const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
  const [started] = await decodeHistoryEvents(
    (history.events ?? []).slice(0, 1),
    client.options.loadedDataConverter.payloadCodecs,
  );
  const payload = started?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
  if (!payload?.data) throw new Error(`${workflowId} recorded no start input`);
  return JSON.parse(Buffer.from(payload.data).toString('utf8')) as RolloutRequest;
}
