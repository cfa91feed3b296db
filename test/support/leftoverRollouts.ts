import { loadTemporalSettings } from '../../common/settings';
import { createTemporalClient } from '../../rolloutClient';

/**
 * Ends a test tenant's rollouts still running once the test is over (their worker is gone). Left
 * running, they sit in the shared stack's visibility: a stack worker started later (`npm run demo`)
 * would run them, and the stack's Prometheus counts them as stuck rollouts and fires the alerts.
 */
export async function terminateLeftoverRollouts(tenantId: string): Promise<void> {
  const temporal = await createTemporalClient(loadTemporalSettings());
  try {
    for await (const workflow of temporal.workflow.list({
      query: `TenantId="${tenantId}" AND ExecutionStatus="Running"`,
    })) {
      await temporal.workflow.getHandle(workflow.workflowId, workflow.runId).terminate('test over');
    }
  } finally {
    await temporal.connection.close();
  }
}
