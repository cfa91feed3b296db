import type { Client } from '@temporalio/client';
import type { GatesChange } from '../../common/freezes';
import type { Logger } from '../../common/logger';
import { ROLLOUT_WORKFLOW_TYPE } from '../../common/rollout';
import { gatesChangedSignal } from '../../workflows/definitions';

/**
 * The most rollouts one freeze signals, and how many at once: a bound on what one request costs.
 * Rollouts past it (or missed by visibility's lag) read the freeze at their next wave boundary anyway.
 */
const MAX_SIGNALLED = 1_000;
const CONCURRENCY = 16;
/** Past this the request answers; the signals already sent stand, the rest are left to the durable reads. */
const SIGNALLING_BUDGET_MS = 5_000;

/**
 * Tells running rollouts that their freezes or change windows changed, so a held one reads them again at
 * once. Best effort: every rollout reads its gates durably at each wave boundary, and while held
 * re-reads them now and then; a signal only makes it prompt. Rollouts are found by search attribute, so a
 * tenant's change reaches only that tenant's rollouts.
 */
export class GateSignals {
  constructor(
    private readonly client: Client,
    private readonly logger: Logger,
  ) {}

  /** Signals the running rollouts of `tenantId`, or of every tenant; answers how many were signalled. */
  async notify(tenantId: string | undefined, change: GatesChange): Promise<number> {
    const deadline = Date.now() + SIGNALLING_BUDGET_MS;
    const clauses = [`WorkflowType = '${ROLLOUT_WORKFLOW_TYPE}'`, `ExecutionStatus = 'Running'`];
    if (tenantId !== undefined) clauses.push(`TenantId = '${tenantId}'`);
    let signalled = 0;
    const pending = new Set<Promise<void>>();
    try {
      for await (const execution of this.client.workflow.list({ query: clauses.join(' AND ') })) {
        if (signalled + pending.size >= MAX_SIGNALLED || Date.now() > deadline) break;
        const sent = this.client.workflow
          .getHandle(execution.workflowId, execution.runId)
          .signal(gatesChangedSignal, change)
          .then(
            () => void (signalled += 1),
            // Finished meanwhile, or Temporal busy: its next read of the gates decides.
            () => undefined,
          )
          .finally(() => pending.delete(sent));
        pending.add(sent);
        if (pending.size >= CONCURRENCY) await Promise.race(pending);
      }
      await Promise.all(pending);
    } catch (error) {
      this.logger.warn('could not signal every running rollout of a freeze change', {
        tenantId,
        action: change.action,
        signalled,
        error,
      });
    }
    return signalled;
  }
}
