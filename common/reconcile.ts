/**
 * The reconciler's vocabulary, shared by its workflows, its activities, the worker and tests. Plain data
 * only: this module is imported by workflow code.
 */

export const RECONCILE_WORKFLOW_TYPE = 'reconcileWorkflow';
export const RECONCILE_FLEET_WORKFLOW_TYPE = 'reconcileFleetWorkflow';
/** The Temporal Schedule that starts a fleet-wide pass every RECONCILE_INTERVAL_SECONDS. */
export const RECONCILE_SCHEDULE_ID = 'config-reconciler';

/** One tenant's keys on one consuming service's instances. */
export interface ReconcileScope {
  readonly tenantId: string;
  readonly service: string;
}

/** At most one pass per tenant and service at a time: the workflow id is the lock. */
export function reconcileWorkflowId(scope: ReconcileScope): string {
  return `reconcile:${scope.tenantId}:${scope.service}`;
}

export type RepairKind =
  /** The instance missed a push: it gets the live version. */
  | 'missed-push'
  /** The instance holds a version that never went live (a lost rollout's candidate): reverted to live. */
  | 'never-live-candidate'
  /** The instance holds a key that is gone (or never went live): it forgets it. */
  | 'removed-key';

export interface Repair {
  readonly instance: string;
  readonly key: string;
  readonly service?: string;
  readonly kind: RepairKind;
  /** The version the instance held, and the one it was sent (0: the key's absence). */
  readonly heldVersion: number;
  readonly sentVersion: number;
  readonly succeeded: boolean;
  /** Why a repair push failed, as tenants may read it. */
  readonly reason?: string;
}

export interface ReconcileResult {
  readonly tenantId: string;
  readonly service: string;
  readonly instances: number;
  readonly keys: number;
  /** Keys left alone because a rollout of them is running: it owns them until it ends. */
  readonly skippedKeys: readonly string[];
  /** Instances that could not be asked what they hold. */
  readonly unreachable: readonly { readonly instance: string; readonly reason: string }[];
  readonly repairs: readonly Repair[];
  /** Repairs beyond the reported ones, counted only (a result stays small whatever the fleet). */
  readonly moreRepairs: number;
}

export interface ReconcileFleetResult {
  readonly passes: number;
  readonly repaired: number;
  readonly failedPasses: number;
}
