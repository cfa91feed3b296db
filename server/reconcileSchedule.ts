import {
  type Client,
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  type ScheduleSpec,
} from '@temporalio/client';
import { RECONCILE_FLEET_WORKFLOW_TYPE, RECONCILE_SCHEDULE_ID } from '../common/reconcile';

/**
 * Makes the reconciler's Temporal Schedule match the settings: a fleet-wide pass every
 * `intervalSeconds` on `taskQueue`, never two at once (a pass still running skips the next), and no
 * schedule at all with an interval of 0. Every worker calls this at start; the schedule is one.
 */
export async function ensureReconcileSchedule(
  client: Client,
  options: { readonly taskQueue: string; readonly intervalSeconds: number; readonly scheduleId?: string },
): Promise<void> {
  const scheduleId = options.scheduleId ?? RECONCILE_SCHEDULE_ID;
  const handle = client.schedule.getHandle(scheduleId);
  if (options.intervalSeconds === 0) {
    await handle.delete().catch((error: unknown) => {
      if (!(error instanceof ScheduleNotFoundError)) throw error;
    });
    return;
  }
  const spec: ScheduleSpec = { intervals: [{ every: `${options.intervalSeconds} seconds` }] };
  const action = {
    type: 'startWorkflow',
    workflowType: RECONCILE_FLEET_WORKFLOW_TYPE,
    workflowId: scheduleId,
    taskQueue: options.taskQueue,
    args: [{}],
  } as const;
  try {
    await client.schedule.create({ scheduleId, spec, action, policies: { overlap: 'SKIP' } });
  } catch (error) {
    if (!(error instanceof ScheduleAlreadyRunning)) throw error;
    // Settings changed since it was made (a new interval, another task queue): take the new ones.
    await handle.update((previous) => ({ ...previous, spec, action }));
  }
}
