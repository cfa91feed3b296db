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
 * and asks Temporal directly (describe is strongly consistent) whether those still run, when that could
 * decide. Counts of one tenant are taken one at a time, and a start admitted holds its place until it
 * is remembered (or fails), so concurrent requests cannot all pass the same count; the starts themselves
 * (validation, the Temporal call) run side by side.
 */
export class RunningRolloutQuota {
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly recent = new Map<string, { workflowId: string; startedAt: number }[]>();
  /** Admitted starts of each tenant still under way. */
  private readonly starting = new Map<string, number>();

  constructor(
    private readonly client: Client,
    private readonly perTenant: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Runs `start` if the tenant is under its quota, else throws LimitExceededError naming it. */
  admit<T extends { workflowId: string }>(tenantId: string, start: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(tenantId) ?? Promise.resolve();
    const admitted = previous.then(async () => {
      const occupied = await this.occupied(tenantId).catch((error: unknown) => {
        if (!(error instanceof ServiceError)) throw error;
        throw new BackendUnavailableError(`Temporal is unavailable: ${error.message}`, undefined, {
          cause: error,
        });
      });
      if (occupied >= this.perTenant) {
        throw new LimitExceededError(
          'tenant-rollouts',
          `quota tenant-rollouts: ${this.perTenant} rollouts of this tenant are running; ` +
            'wait for one to finish, or abort one',
          RETRY_AFTER_SECONDS,
        );
      }
      this.adjustStarting(tenantId, 1);
    });
    const settled = admitted.catch(() => undefined);
    this.queues.set(tenantId, settled);
    void settled.then(() => {
      if (this.queues.get(tenantId) === settled) this.queues.delete(tenantId);
    });
    return admitted.then(async () => {
      try {
        const started = await start();
        this.remember(tenantId, started.workflowId);
        return started;
      } finally {
        this.adjustStarting(tenantId, -1);
      }
    });
  }

  /**
   * The tenant's running rollouts and starts under way; once it is certain to be under the quota, an
   * upper bound instead (still under it).
   */
  private async occupied(tenantId: string): Promise<number> {
    const starting = this.starting.get(tenantId) ?? 0;
    const ids = new Set<string>();
    const query = `WorkflowType = '${ROLLOUT_WORKFLOW_TYPE}' AND TenantId = '${tenantId}' AND ExecutionStatus = 'Running'`;
    for await (const execution of this.client.workflow.list({ query, pageSize: this.perTenant + 1 })) {
      ids.add(execution.workflowId);
      if (ids.size + starting >= this.perTenant) return ids.size + starting;
    }
    const unlisted = [...new Set(this.recentOf(tenantId).map(({ workflowId }) => workflowId))].filter(
      (workflowId) => !ids.has(workflowId),
    );
    // Even if every recent start not yet listed still runs, the tenant is under its quota: asking
    // whether they do would change nothing, and cost a round trip per recent start.
    const atMost = ids.size + unlisted.length + starting;
    if (atMost < this.perTenant) return atMost;
    const running = await Promise.all(
      unlisted.map(async (workflowId) => {
        const description = await this.client.workflow.getHandle(workflowId).describe();
        return description.status.name === 'RUNNING';
      }),
    );
    return ids.size + running.filter(Boolean).length + starting;
  }

  private adjustStarting(tenantId: string, by: number): void {
    const count = (this.starting.get(tenantId) ?? 0) + by;
    if (count > 0) this.starting.set(tenantId, count);
    else this.starting.delete(tenantId);
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
