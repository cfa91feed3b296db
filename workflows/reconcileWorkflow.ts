import {
  continueAsNew,
  executeChild,
  proxyActivities,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { ReconcileActivities } from '../activities/reconcile/reconcileActivities';
import {
  type ReconcileFleetResult,
  type ReconcileResult,
  type ReconcileScope,
  reconcileWorkflowId,
} from '../common/reconcile';
import { TENANT_ID } from '../common/searchAttributes';

// Listing tenants and services is a few store and Cloud Map calls: short, retried through a blip.
const targets = proxyActivities<ReconcileActivities>({
  startToCloseTimeout: '2 minutes',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    maximumAttempts: 5,
  },
});
// One pass asks every instance and pushes repairs inside one activity (history does not grow per
// instance); heartbeats move a crashed worker's pass to another. Each pass is idempotent, and the next
// scheduled one tries again anyway, so few retries.
const pass = proxyActivities<ReconcileActivities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '30 seconds',
  retry: {
    initialInterval: '2 seconds',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    maximumAttempts: 3,
  },
});

/** Passes one fleet run starts before it continues as new: its history stays far under the limits. */
const PASSES_PER_RUN = 100;
/** Passes running at once: each fans out to a service's instances itself. */
const CONCURRENT_PASSES = 8;

/**
 * One reconciliation pass for one tenant on one consuming service: every instance is asked what it
 * holds of the tenant's keys and given what the store serves (the live version, or the key's absence),
 * so an instance converges whatever push, removal or rollout it lost. Keys a rollout is running for are
 * left to that rollout. The result names each repair; the memo counts them for the Temporal UI.
 */
export async function reconcileWorkflow(scope: ReconcileScope): Promise<ReconcileResult> {
  upsertSearchAttributes([{ key: TENANT_ID, value: scope.tenantId }]);
  const result = await pass.reconcileTenant({ scope, passId: workflowInfo().runId });
  upsertMemo({
    service: scope.service,
    repaired: result.repairs.filter((repair) => repair.succeeded).length + result.moreRepairs,
    failedRepairs: result.repairs.filter((repair) => !repair.succeeded).length,
    unreachable: result.unreachable.length,
    skippedKeys: result.skippedKeys.length,
  });
  return result;
}

export interface ReconcileFleetInput {
  /** Carried over by continue-as-new: what is left to do, and the totals so far. */
  readonly tenants?: readonly string[];
  readonly services?: readonly string[];
  readonly next?: number;
  readonly totals?: ReconcileFleetResult;
}

/**
 * What the schedule starts every RECONCILE_INTERVAL_SECONDS: a pass (a child reconcileWorkflow) for
 * every tenant the store keeps keys of on every service registered in Cloud Map, a few at a time.
 */
export async function reconcileFleetWorkflow(input: ReconcileFleetInput = {}): Promise<ReconcileFleetResult> {
  const { tenants, services } =
    input.tenants && input.services
      ? { tenants: input.tenants, services: input.services }
      : await targets.reconcileTargets();
  const scopes = tenants.flatMap((tenantId) => services.map((service) => ({ tenantId, service })));
  const first = input.next ?? 0;
  const batch = scopes.slice(first, first + PASSES_PER_RUN);
  let totals: ReconcileFleetResult = input.totals ?? { passes: 0, repaired: 0, failedPasses: 0 };
  let next = 0;
  const runPasses = async () => {
    for (let index = next++; index < batch.length; index = next++) {
      const scope = batch[index]!;
      try {
        const result = await executeChild(reconcileWorkflow, {
          workflowId: reconcileWorkflowId(scope),
          args: [scope],
          typedSearchAttributes: [{ key: TENANT_ID, value: scope.tenantId }],
        });
        const repaired = result.repairs.filter((repair) => repair.succeeded).length + result.moreRepairs;
        totals = { ...totals, passes: totals.passes + 1, repaired: totals.repaired + repaired };
      } catch {
        // Already running (a pass started by hand), or failed: the next scheduled run tries again.
        totals = { ...totals, passes: totals.passes + 1, failedPasses: totals.failedPasses + 1 };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENT_PASSES, batch.length) }, runPasses));
  if (first + batch.length < scopes.length)
    await continueAsNew<typeof reconcileFleetWorkflow>({
      tenants,
      services,
      next: first + batch.length,
      totals,
    });
  return totals;
}
