import type { Client } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';

/**
 * Events a history page holds. A sharded rollout of 10,000 instances writes about 8 MB of history; read
 * in one page (as `WorkflowHandle.fetchHistory` does) it is past the client's 4 MB message limit, and a
 * page of 20 events stays under 1 MB (the largest event is one shard's input, under 100 KB).
 */
const HISTORY_PAGE_EVENTS = 20;

/** A workflow run's whole history, read a few events a page so no page outgrows a gRPC message. */
export async function historyInPages(
  client: Client,
  execution: { readonly workflowId: string; readonly runId?: string },
): Promise<temporal.api.history.v1.IHistoryEvent[]> {
  const events: temporal.api.history.v1.IHistoryEvent[] = [];
  let nextPageToken: Uint8Array | undefined;
  do {
    const page = await client.workflowService.getWorkflowExecutionHistory({
      namespace: client.options.namespace,
      execution: { workflowId: execution.workflowId, ...(execution.runId ? { runId: execution.runId } : {}) },
      maximumPageSize: HISTORY_PAGE_EVENTS,
      ...(nextPageToken ? { nextPageToken } : {}),
    });
    events.push(...(page.history?.events ?? []));
    nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
  } while (nextPageToken);
  return events;
}
