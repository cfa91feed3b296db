import { type Client, ServiceError } from '@temporalio/client';
import { BackendUnavailableError, LimitExceededError } from '../../common/errors';
import { ROLLOUT_WORKFLOW_TYPE } from '../../common/rollout';

/** Visibility lags a start by far less than this; until then this process vouches for its own starts. */
const RECENT_START_MS = 30_000;
/** A rollout takes minutes; a refused one may pass once another ends. */
const RETRY_AFTER_SECONDS = 30;

/**
 * At most `perTenant` rollouts of one tenant run at once. Running ones are counted in Temporal's
 * visibility, which lags a start by a moment, so this process also remembers what it started lately
 * and asks Temporal directly (describe is strongly consistent) whether those still run. Starts of one
 * tenant are taken one at a time here, so concurrent requests cannot all pass the same count.
 */
export class RunningRolloutQuota {
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly recent = new Map<string, { workflowId: string; startedAt: number }[]>();

  constructor(
    private readonly client: Client,
    private readonly perTenant: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Runs `start` if the tenant is under its quota, else throws LimitExceededError naming it. */
  admit<T extends { workflowId: string }>(tenantId: string, start: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(tenantId) ?? Promise.resolve();
    const turn = previous.then(async () => {
      const running = await this.running(tenantId).catch((error: unknown) => {
        if (!(error instanceof ServiceError)) throw error;
        throw new BackendUnavailableError(`Temporal is unavailable: ${error.message}`, undefined, {
          cause: error,
        });
      });
      if (running >= this.perTenant) {
        throw new LimitExceededError(
          'tenant-rollouts',
          `quota tenant-rollouts: ${this.perTenant} rollouts of this tenant are running; ` +
            'wait for one to finish, or abort one',
          RETRY_AFTER_SECONDS,
        );
      }
      const started = await start();
      this.remember(tenantId, started.workflowId);
      return started;
    });
    const settled = turn.catch(() => undefined);
    this.queues.set(tenantId, settled);
    void settled.then(() => {
      if (this.queues.get(tenantId) === settled) this.queues.delete(tenantId);
    });
    return turn;
  }

  private async running(tenantId: string): Promise<number> {
    const ids = new Set<string>();
    const query = `WorkflowType = '${ROLLOUT_WORKFLOW_TYPE}' AND TenantId = '${tenantId}' AND ExecutionStatus = 'Running'`;
    for await (const execution of this.client.workflow.list({ query, pageSize: this.perTenant + 1 })) {
      ids.add(execution.workflowId);
      if (ids.size >= this.perTenant) return ids.size;
    }
    for (const { workflowId } of this.recentOf(tenantId)) {
      if (ids.has(workflowId)) continue;
      const description = await this.client.workflow.getHandle(workflowId).describe();
      if (description.status.name === 'RUNNING') ids.add(workflowId);
    }
    return ids.size;
  }

  private recentOf(tenantId: string): { workflowId: string; startedAt: number }[] {
    const fresh = (this.recent.get(tenantId) ?? []).filter(
      (start) => this.now() - start.startedAt < RECENT_START_MS,
    );
    if (fresh.length > 0) this.recent.set(tenantId, fresh);
    else this.recent.delete(tenantId);
    return fresh;
  }

  /** Every tenant's stale starts go too, so what is kept is only the last RECENT_START_MS of starts. */
  private remember(tenantId: string, workflowId: string): void {
    for (const other of [...this.recent.keys()]) this.recentOf(other);
    this.recent.set(tenantId, [...this.recentOf(tenantId), { workflowId, startedAt: this.now() }]);
  }
}
