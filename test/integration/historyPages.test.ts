import { randomUUID } from 'node:crypto';
import { type Client, Connection } from '@temporalio/client';
import { loadTemporalSettings } from '../../common/settings';
import { historyInPages, createTemporalClient, temporalConnectionOptions } from '../../rolloutClient';
import { addNote, notesWorkflow } from '../support/notesWorkflow';

/**
 * A history past the client's 4 MB message limit (a 10,000-instance rollout writes about 8 MB) is read
 * whole, a few events a page, where one page of it is refused. Signals to a workflow no worker runs
 * are recorded all the same, so no worker is needed to grow one.
 */
const settings = loadTemporalSettings();
let client: Client;

beforeAll(async () => {
  client = await createTemporalClient(settings);
});

afterAll(async () => {
  await client?.connection.close();
});

test('a 6 MB history is read whole in pages, where one page of it is past the message limit', async () => {
  const handle = await client.workflow.start(notesWorkflow, {
    taskQueue: `nobody-polls-${randomUUID()}`,
    workflowId: `history-pages-${randomUUID()}`,
  });
  try {
    // Sized like a large rollout's events: about 100 KB each (one shard's input), 6 MB in all.
    const note = 'x'.repeat(100_000);
    for (let i = 0; i < 60; i += 1) await handle.signal(addNote, note);

    // One page of all of it, as `WorkflowHandle.fetchHistory` asks for, is refused (asked without the
    // client's retries, which would retry the refusal for a while before giving it).
    const once = await Connection.connect({ ...temporalConnectionOptions(settings), interceptors: [] });
    await expect(
      once.workflowService.getWorkflowExecutionHistory({
        namespace: client.options.namespace,
        execution: { workflowId: handle.workflowId },
      }),
    ).rejects.toThrow(/RESOURCE_EXHAUSTED/);
    await once.close();

    const events = await historyInPages(client, handle);
    expect(events.filter((event) => event.workflowExecutionSignaledEventAttributes)).toHaveLength(60);
    expect(events[0]?.workflowExecutionStartedEventAttributes).toBeTruthy();
    expect(events.map((event) => Number(event.eventId))).toEqual(events.map((_, index) => index + 1));
  } finally {
    await handle.terminate('test done');
  }
}, 60_000);
