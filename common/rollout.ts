import type { ShapeGuardSetting } from './shapeGuard';

/**
 * The rollout's vocabulary, shared by the workflow, its activities, the worker and every client (API,
 * CLI, Lambda). Plain data only: this module is imported by workflow code.
 */
import type { AlarmSelector } from './alarms';

export const ROLLOUT_TASK_QUEUE = 'config-rollouts';
export const ROLLOUT_WORKFLOW_TYPE = 'rolloutWorkflow';

/** A wave's target: an instance count, or a percentage of the discovered fleet (`"10%"`). */
export type WaveTarget = number | `${number}%`;

/** How waves grow. Percentages are cumulative: `[1, "50%", "100%"]` is a canary, then half, then all. */
export type WaveStrategy =
  | { readonly kind: 'explicit'; readonly waves: readonly WaveTarget[] }
  /** Like AppConfig's linear strategies: `stepPercent` more of the fleet each wave. */
  | { readonly kind: 'linear'; readonly stepPercent: number }
  /** Like AppConfig's exponential strategies: start at `startPercent`, multiply by `growthFactor`. */
  | { readonly kind: 'exponential'; readonly startPercent: number; readonly growthFactor: number };

export type ApprovalPolicy =
  /** Never wait for a person. */
  | 'none'
  /** Wait for approval once, after the first (canary) wave. */
  | 'after-first-wave'
  /** Wait for approval after every wave but the last. */
  | 'every-wave';

export interface RolloutPlan {
  readonly strategy: WaveStrategy;
  /** Time each wave bakes (a durable timer) before its health gate passes. */
  readonly bakeSeconds: number;
  readonly approval: ApprovalPolicy;
  /** Roll back once more instances than this have failed (a count, or a percentage of the fleet). */
  readonly maxFailures: WaveTarget;
  readonly push?: PushSettings;
  /**
   * The longest the rollout may stay paused, or wait for an approval, before it rolls back on its own: a
   * held candidate keeps pooled instances, shared with other tenants, on an unfinished change.
   * DEFAULT_MAX_PAUSE_SECONDS when absent.
   */
  readonly maxPauseSeconds?: number;
  /** Lets the release manager who started the rollout approve it too (four-eyes is the default). */
  readonly allowSelfApproval?: boolean;
  /**
   * Lets a rollout that finds no instance promote anyway. By default it rolls back instead: with no
   * instance there is nothing to gate the change on, and an empty discovery is as likely a broken Cloud
   * Map as an idle service.
   */
  readonly allowEmptyFleet?: boolean;
  // Shape guard and approvals that expire (issue 11):
  /**
   * How far a value's size or top-level shape may move against the live one (common/shapeGuard.ts);
   * DEFAULT_SHAPE_MAX_FACTOR when absent, `off` to judge nothing.
   */
  readonly shapeGuard?: ShapeGuardSetting;
  /**
   * How long each approval is waited for before the rollout rolls back with `approval timed out`; the
   * plan's maxPauseSeconds (itself DEFAULT_MAX_PAUSE_SECONDS) when absent.
   */
  readonly approvalTimeoutSeconds?: number;
  // Alarm gate (common/alarms.ts).
  /**
   * The tenant's CloudWatch alarms that gate every wave: one in ALARM at any time during a wave's push or
   * its bake rolls the rollout back. Looked up under `config-rollouts/<tenantId>/` only.
   */
  readonly alarms?: readonly AlarmSelector[];
  // Canary analysis gate (issue 11).
  /**
   * Compare, after each wave's bake but the last, the error ratio the instances holding the candidate
   * recorded (SDK `record`) with that of instances still on live, and roll back on a significant rise.
   */
  readonly canary?: CanaryPlan;
}

/** The canary analysis' settings; every field has a default (CANARY_DEFAULTS), so `{}` turns it on. */
export interface CanaryPlan {
  /** Requests each group must have recorded in the window before the test is run. */
  readonly minSamples?: number;
  /** The one-sided test's confidence that the candidate's error ratio is higher. */
  readonly confidence?: number;
  /** How much longer a wave may bake, in steps, waiting for enough samples (bake + this <= MAX_BAKE_SECONDS). */
  readonly maxExtraBakeSeconds?: number;
  /** What too few samples at the bound means: roll back (`fail`, the default) or go on (`pass`). */
  readonly onInsufficientSamples?: 'fail' | 'pass';
}

export const CANARY_DEFAULTS = {
  minSamples: 100,
  confidence: 0.95,
  maxExtraBakeSeconds: 300,
  onInsufficientSamples: 'fail',
} as const satisfies Required<CanaryPlan>;

/** Requests and errors one group of instances recorded in an analysis window. */
export interface OutcomeTally {
  readonly instances: number;
  readonly requests: number;
  readonly errors: number;
}

/** A wave's canary analysis, as progress shows it. */
export interface WaveCanary {
  /**
   * `measuring` while the window is open; `passed`, `regressed` (rolled back); `insufficient` (too few
   * samples at the bound: `passed` says what the plan made of it); `skipped` on the last wave.
   */
  readonly verdict: 'measuring' | 'passed' | 'regressed' | 'insufficient' | 'skipped';
  readonly candidate: OutcomeTally;
  readonly baseline: OutcomeTally;
  /** The test statistic and the bound it was held to, once both groups had enough samples. */
  readonly z?: number;
  readonly threshold?: number;
  /** Bake added so far while waiting for samples. */
  readonly extraBakeSeconds: number;
  /** Instances whose counters were not trusted (absurd, or going backwards) and left out. */
  readonly untrusted: number;
  readonly summary: string;
}

/** A day: long enough for a person to look into a paused rollout, short enough not to hold the fleet. */
export const DEFAULT_MAX_PAUSE_SECONDS = 24 * 3600;
export const MAX_PAUSE_SECONDS_LIMIT = 3 * 24 * 3600;
/** A wave's bake: an hour at most (pooled instances of every tenant hold the candidate meanwhile). */
export const MAX_BAKE_SECONDS = 3600;
/** Before bounded holds, for runs that started under it. */
export const LEGACY_MAX_BAKE_SECONDS = 7 * 24 * 3600;

export interface PushSettings {
  /** Per-instance deadline of one Refresh call. */
  readonly timeoutMs: number;
  /** Tries per instance before it counts as failed. */
  readonly attempts: number;
  /** Instances pushed to at once. */
  readonly concurrency: number;
}

/**
 * How long a rollback keeps retrying the instances it could not revert (frozen, partitioned): as long as
 * a push already sent to them may still be applied (a push grant lives 10 s, plus 5 s of clock skew;
 * common/pushGrant.ts), with a margin. An instance back within it is reverted and reported so; one
 * back later refuses the candidate's expired push, and holds the candidate only if it had applied it.
 */
export const REVERT_RETRY_WINDOW_MS = 20_000;

/**
 * The most instances one fleet activity handles: a discovery page, a shard of a wave's pushes or of its
 * health check. Shards run as activities of their own, on whichever worker of the task queue is free, so
 * a fleet's pushes spread over every worker; no activity input or result then grows with the fleet
 * (500 instances, each ~250 B with its sealing key, stay far under Temporal's 2 MB payload limit), and
 * history grows by a few events per shard, not per instance.
 */
export const FLEET_SHARD_SIZE = 500;

export const DEFAULT_PUSH_SETTINGS: PushSettings = { timeoutMs: 2_000, attempts: 3, concurrency: 32 };

export const DEFAULT_PLAN: RolloutPlan = {
  strategy: { kind: 'explicit', waves: [1, '10%', '50%', '100%'] },
  bakeSeconds: 60,
  approval: 'none',
  maxFailures: 0,
};

export type ConfigChange =
  /** Write `value` as a new candidate version and roll it out. */
  | { readonly kind: 'set'; readonly value: string }
  /** Roll out a version already written (an out-of-band Parameter Store edit). */
  | { readonly kind: 'existing'; readonly version: number }
  /** Roll out the key's deletion: instances forget it, and the store loses it if it still has it. */
  | { readonly kind: 'remove' };

export interface RolloutRequest {
  readonly tenantId: string;
  readonly key: string;
  /** Required for per-service keys (`param_config_`). */
  readonly service?: string;
  readonly change: ConfigChange;
  /** The consuming services whose instances receive the push; per-service keys default to their service. */
  readonly targetServices: readonly string[];
  readonly plan: RolloutPlan;
  /** Who started it (the token's subject), for audit. */
  readonly actor: string;
  /** The starter confirmed a change of shape the plan's shape guard would refuse. */
  readonly allowShapeChange?: boolean;
}

export type RolloutState =
  | 'PREPARING'
  | 'ROLLING_OUT'
  | 'BAKING'
  | 'AWAITING_APPROVAL'
  | 'PAUSED'
  | 'PROMOTING'
  | 'SUCCEEDED'
  | 'ROLLING_BACK'
  | 'ROLLED_BACK'
  | 'FAILED';

export interface WaveProgress {
  readonly index: number;
  /** Instances this wave brings the fleet up to (cumulative). */
  readonly targetInstances: number;
  readonly updated: number;
  readonly failed: number;
  readonly state: 'pending' | 'pushing' | 'baking' | 'awaiting-approval' | 'done' | 'failed';
  /** With plan.canary: this wave's analysis. */
  readonly canary?: WaveCanary;
}

export interface AuditEntry {
  readonly at: string;
  readonly actor: string;
  readonly action:
    | 'start'
    | 'approve'
    | 'pause'
    | 'resume'
    | 'abort'
    // Freezes: held by a freeze at a wave boundary (the freeze's actor and reason), and let go.
    | 'freeze'
    | 'unfreeze';
  readonly reason?: string;
}

export interface RolloutProgress {
  readonly state: RolloutState;
  /** What is rolled out: a new value, an existing version, or the key's removal. */
  readonly change: ConfigChange['kind'];
  readonly tenantId: string;
  readonly key: string;
  readonly service?: string;
  readonly candidateVersion?: number;
  /** The candidate is a copy of this older version (a rollout back to it rolls forward). */
  readonly copyOf?: number;
  readonly previousVersion?: number;
  readonly currentWave: number;
  readonly waves: readonly WaveProgress[];
  readonly instances: {
    readonly total: number;
    readonly updated: number;
    readonly failed: number;
    readonly pending: number;
    /**
     * Sent the candidate, then confirmed back on the previous version (or the removal undone); one that
     * had failed the candidate is counted in `failed` as well, and `pending` counts neither twice.
     */
    readonly reverted: number;
  };
  readonly failedInstances: readonly { readonly instanceId: string; readonly reason: string }[];
  readonly paused: boolean;
  /** While AWAITING_APPROVAL: when the wait ends and the rollout rolls back unapproved (ISO 8601). */
  readonly approvalDeadline?: string;
  readonly outcome?: string;
  readonly audit: readonly AuditEntry[];
  // Freezes and change windows: what holds the rollout at a wave boundary (state PAUSED) while it does.
  readonly hold?: RolloutHold;
}

/** Why a rollout waits at a wave boundary that no release manager paused it at. */
export type RolloutHold =
  | {
      readonly gate: 'freeze';
      readonly scope: 'tenant' | 'platform';
      readonly frozenBy: string;
      readonly frozenAt: string;
      readonly reason: string;
    }
  /** Outside the tenant's change windows: waits for `until`, the next one's opening (ISO 8601, UTC). */
  | { readonly gate: 'change-window'; readonly until: string };

export interface RolloutResult {
  readonly state: 'SUCCEEDED' | 'ROLLED_BACK';
  readonly candidateVersion: number;
  /** The candidate is a copy of this older version. */
  readonly copyOf?: number;
  readonly liveVersion?: number;
  readonly updatedInstances: number;
  readonly failedInstances: number;
  /** Instances confirmed back on the previous version by the rollback. */
  readonly revertedInstances?: number;
  /**
   * Instances the rollback could not confirm back on the previous version within REVERT_RETRY_WINDOW_MS
   * (they did not answer), with the last reason.
   */
  readonly notReverted?: readonly { readonly instanceId: string; readonly reason: string }[];
  readonly reason?: string;
}

/**
 * One rollout per tenant and key at a time: the workflow id is the lock. Give it the normalised address
 * (ConfigStore.normalize: no service for a tenant-wide key), or one key would have two locks.
 */
export function rolloutWorkflowId(request: Pick<RolloutRequest, 'tenantId' | 'key' | 'service'>): string {
  return `rollout:${request.tenantId}:${request.service ?? '-'}:${request.key}`;
}

/** The key a rollout's workflow id names (rolloutWorkflowId's inverse); undefined for any other id. */
export function parseRolloutWorkflowId(workflowId: string): { key: string; service?: string } | undefined {
  const [prefix, , service, key] = workflowId.split(':');
  if (prefix !== 'rollout' || !key) return undefined;
  return { key, ...(service && service !== '-' ? { service } : {}) };
}

export interface ActorInput {
  readonly actor: string;
  readonly reason?: string;
}

/**
 * The memo field a rollout publishes its progress in: operators read it when no worker answers a query,
 * and once the rollout is over. Memos go through the payload codec, so it is sealed like the history.
 */
export const PROGRESS_MEMO = 'progress';

export interface PublishedProgress extends RolloutProgress {
  /** Workflow time of the publication: how old the progress is when no worker answers. */
  readonly publishedAt: string;
}

/** A rollout's progress before its workflow has run: what the starter publishes with the start. */
export function initialProgress(request: RolloutRequest, at: string): RolloutProgress {
  return {
    state: 'PREPARING',
    change: request.change.kind,
    tenantId: request.tenantId,
    key: request.key,
    ...(request.service ? { service: request.service } : {}),
    ...(request.change.kind === 'existing' ? { candidateVersion: request.change.version } : {}),
    currentWave: 0,
    waves: [],
    instances: { total: 0, updated: 0, failed: 0, pending: 0, reverted: 0 },
    failedInstances: [],
    paused: false,
    audit: [{ at, actor: request.actor, action: 'start' }],
  };
}
