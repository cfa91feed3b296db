import { type Client, ServiceError } from '@temporalio/client';
import { BackendUnavailableError, LimitExceededError } from '../../common/errors';
import { ROLLOUT_WORKFLOW_TYPE } from '../../common/rollout';

/** Visibility lags a start by far less than this; until then this process vouches for its own starts. */
const RECENT_START_MS = 30_000;
/** A rollout takes minutes; a refused one may pass once another ends. */
const RETRY_AFTER_SECONDS = 30;

/** A start the quota may admit: the workflow it would run, known once the request is validated. */
export interface PendingStart<T> {
  readonly workflowId: Promise<string>;
  run(): Promise<T>;
}

/**
 * At most `perTenant` rollouts of one tenant run at once. A place is held by a workflow id, never by a
 * request: starts of one key race for one workflow id (all but one get RolloutInProgress), so they hold
 * one place between them, and a start already visible in Temporal is not counted again while its call
 * returns. Running ones are counted in Temporal's visibility, which lags a start by a moment, so this
 * process also remembers what it started lately and asks Temporal directly (describe is strongly
 * consistent) whether those still run, when that could decide. Counts of one tenant are taken one at a
 * time, and an admitted start holds its place until it is remembered (or fails), so concurrent requests
 * cannot all pass the same count; the starts themselves (the Temporal call) run side by side.
 */
export class RunningRolloutQuota {
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly recent = new Map<string, { workflowId: string; startedAt: number }[]>();
  /** The workflow ids of each tenant's admitted starts still under way, with how many starts want each. */
  private readonly starting = new Map<string, Map<string, number>>();

  constructor(
    private readonly client: Client,
    private readonly perTenant: number,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Runs the start if its workflow already holds a place or the tenant is under its quota, else throws
   * LimitExceededError naming it. A start whose validation fails answers with that failure.
   */
  admit<T>(tenantId: string, start: PendingStart<T>): Promise<T> {
    const previous = this.queues.get(tenantId) ?? Promise.resolve();
    const admitted = previous.then(async () => {
      // The running list is asked for beside the validation, not after it.
      const [workflowId, listed] = await Promise.all([
        start.workflowId,
        this.listRunning(tenantId).catch((error: unknown) => {
          if (!(error instanceof ServiceError)) throw error;
          throw new BackendUnavailableError(`Temporal is unavailable: ${error.message}`, undefined, {
            cause: error,
          });
        }),
      ]);
      if (!(await this.holdsPlace(tenantId, workflowId, listed))) {
        throw new LimitExceededError(
          'tenant-rollouts',
          `quota tenant-rollouts: ${this.perTenant} rollouts of this tenant are running; ` +
            'wait for one to finish, or abort one',
          RETRY_AFTER_SECONDS,
        );
      }
      this.adjustStarting(tenantId, workflowId, 1);
      return workflowId;
    });
    const settled = admitted.catch(() => undefined);
    this.queues.set(tenantId, settled);
    void settled.then(() => {
      if (this.queues.get(tenantId) === settled) this.queues.delete(tenantId);
    });
    return admitted.then(async (workflowId) => {
      try {
        const started = await start.run();
        this.remember(tenantId, workflowId);
        return started;
      } finally {
        this.adjustStarting(tenantId, workflowId, -1);
      }
    });
  }

  /** Up to one more than the quota of the tenant's running rollouts, as visibility lists them. */
  private async listRunning(tenantId: string): Promise<Set<string>> {
    const ids = new Set<string>();
    const query = `WorkflowType = '${ROLLOUT_WORKFLOW_TYPE}' AND TenantId = '${tenantId}' AND ExecutionStatus = 'Running'`;
    for await (const execution of this.client.workflow.list({ query, pageSize: this.perTenant + 1 })) {
      ids.add(execution.workflowId);
      if (ids.size > this.perTenant) break;
    }
    return ids;
  }

  /**
   * Whether `workflowId` may run: it holds a place already (running, or being started), or the places
   * held by other workflows, each counted once, leave one free.
   */
  private async holdsPlace(tenantId: string, workflowId: string, listed: Set<string>): Promise<boolean> {
    const held = new Set([...listed, ...(this.starting.get(tenantId)?.keys() ?? [])]);
    if (held.has(workflowId)) return true;
    if (held.size >= this.perTenant) return false;
    const unlisted = [...new Set(this.recentOf(tenantId).map((start) => start.workflowId))].filter(
      (id) => !held.has(id) && id !== workflowId,
    );
    // Even if every recent start not yet listed still runs, the tenant is under its quota: asking
    // whether they do would change nothing, and cost a round trip per recent start.
    if (held.size + unlisted.length < this.perTenant) return true;
    const running = await Promise.all(
      unlisted.map(async (id) => {
        const description = await this.client.workflow.getHandle(id).describe();
        return description.status.name === 'RUNNING';
      }),
    );
    return held.size + running.filter(Boolean).length < this.perTenant;
  }

  private adjustStarting(tenantId: string, workflowId: string, by: number): void {
    const starts = this.starting.get(tenantId) ?? new Map<string, number>();
    const count = (starts.get(workflowId) ?? 0) + by;
    if (count > 0) starts.set(workflowId, count);
    else starts.delete(workflowId);
    if (starts.size > 0) this.starting.set(tenantId, starts);
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
