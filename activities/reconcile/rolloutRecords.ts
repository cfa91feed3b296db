import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import { parseRolloutWorkflowId, ROLLOUT_WORKFLOW_TYPE, rolloutWorkflowId } from '../../common/rollout';
import type { ConfigAddress } from '../../common/configAddress';

/** Rollouts started longer ago than this are not looked at for keys they removed: the SDK's check has. */
export const REMOVED_KEYS_LOOKBACK_MS = 24 * 3600_000;
/** Workflow ids read from visibility per pass: a bound on one tenant's cost. */
const MAX_RECENT_ROLLOUTS = 1000;

/**
 * What Temporal knows of a tenant's rollouts, for the reconciler: which keys rollouts touched lately
 * (a removed key, or one whose only version never went live, is no longer listed by the store), and
 * whether a rollout of a key runs now (the rollout owns its key until it ends).
 */
export class RolloutRecords {
  /** `client`: how to reach Temporal; inside an activity, the worker's own client. */
  constructor(private readonly client: () => Client) {}

  async recentKeys(tenantId: string, service: string, now: number): Promise<ConfigAddress[]> {
    const since = new Date(now - REMOVED_KEYS_LOOKBACK_MS).toISOString();
    const query =
      `WorkflowType = '${ROLLOUT_WORKFLOW_TYPE}' AND TenantId = '${tenantId}' ` +
      `AND StartTime > '${since}'`;
    const found = new Map<string, ConfigAddress>();
    let read = 0;
    for await (const execution of this.client().workflow.list({ query, pageSize: 100 })) {
      const parsed = parseRolloutWorkflowId(execution.workflowId);
      if (parsed && (parsed.service === undefined || parsed.service === service))
        found.set(execution.workflowId, { tenantId, ...parsed });
      read += 1;
      if (read >= MAX_RECENT_ROLLOUTS) break;
    }
    return [...found.values()];
  }

  /**
   * Tenants with rollouts in the lookback window: a tenant whose last key was removed is in no store
   * listing, yet its instances may still hold the key.
   */
  async recentTenants(now: number): Promise<string[]> {
    const since = new Date(now - REMOVED_KEYS_LOOKBACK_MS).toISOString();
    const query = `WorkflowType = '${ROLLOUT_WORKFLOW_TYPE}' AND StartTime > '${since}'`;
    const tenants = new Set<string>();
    let read = 0;
    for await (const execution of this.client().workflow.list({ query, pageSize: 100 })) {
      const tenantId = execution.workflowId.split(':')[1];
      if (tenantId && parseRolloutWorkflowId(execution.workflowId)) tenants.add(tenantId);
      read += 1;
      if (read >= MAX_RECENT_ROLLOUTS * 10) break;
    }
    return [...tenants];
  }

  /** Strongly consistent (describe, not visibility): a rollout started a moment ago counts. */
  async running(address: ConfigAddress): Promise<boolean> {
    try {
      const { status } = await this.client().workflow.getHandle(rolloutWorkflowId(address)).describe();
      return status.name === 'RUNNING';
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return false;
      throw error;
    }
  }
}
