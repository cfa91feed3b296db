/**
 * The rollout's vocabulary, shared by the workflow, its activities, the worker and every client (API,
 * CLI, Lambda). Plain data only: this module is imported by workflow code.
 */
// Imported, then exported: a type-only import is no runtime edge, so the cycle check rightly skips it.
import type {
  ApprovalPolicy,
  CanaryPlan,
  PushSettings,
  RolloutPlan,
  WaveStrategy,
  WaveTarget,
} from './api/plans';
import type {
  AuditEntry,
  OutcomeTally,
  RolloutHold,
  RolloutProgress,
  WaveCanary,
  WaveProgress,
} from './api/rollouts';

export const ROLLOUT_TASK_QUEUE = 'config-rollouts';
export const ROLLOUT_WORKFLOW_TYPE = 'rolloutWorkflow';

/**
 * A plan's fields are the REST contract's `Plan` (common/api/plans.ts): the workflow runs what the API
 * accepts, declared once. Type-only, so workflow code loads no zod.
 */
export type { ApprovalPolicy, CanaryPlan, PushSettings, RolloutPlan, WaveStrategy, WaveTarget };

/** Every canary setting's default, so `{}` turns the analysis on (canarySettings holds them to CanaryPlan). */
export const CANARY_DEFAULTS = {
  minSamples: 100,
  confidence: 0.95,
  maxExtraBakeSeconds: 300,
  onInsufficientSamples: 'fail',
} as const;

/** Progress as the workflow reports it: the REST contract's `Rollout` is built from the same schemas. */
export type { AuditEntry, OutcomeTally, RolloutHold, RolloutProgress, WaveCanary, WaveProgress };

/** A day: long enough for a person to look into a paused rollout, short enough not to hold the fleet. */
export const DEFAULT_MAX_PAUSE_SECONDS = 24 * 3600;
export const MAX_PAUSE_SECONDS_LIMIT = 3 * 24 * 3600;
/** A wave's bake: an hour at most (pooled instances of every tenant hold the candidate meanwhile). */
export const MAX_BAKE_SECONDS = 3600;
/** Before bounded holds, for runs that started under it. */
export const LEGACY_MAX_BAKE_SECONDS = 7 * 24 * 3600;

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

export type RolloutChange =
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
  readonly change: RolloutChange;
  /** The consuming services whose instances receive the push; per-service keys default to their service. */
  readonly targetServices: readonly string[];
  readonly plan: RolloutPlan;
  /** Who started it (the token's subject), for audit. */
  readonly actor: string;
  /** The starter confirmed a change of shape the plan's shape guard would refuse. */
  readonly allowShapeChange?: boolean;
}

export const ROLLOUT_STATES = [
  'PREPARING',
  'ROLLING_OUT',
  'BAKING',
  'AWAITING_APPROVAL',
  'PAUSED',
  'PROMOTING',
  'SUCCEEDED',
  'ROLLING_BACK',
  'ROLLED_BACK',
  'FAILED',
] as const;
export type RolloutState = (typeof ROLLOUT_STATES)[number];

/** The steering actions: updates of the workflow, and POST /v1/rollouts/{id}/{action}. */
export const ROLLOUT_ACTIONS = ['approve', 'pause', 'resume', 'abort'] as const;
export type RolloutAction = (typeof ROLLOUT_ACTIONS)[number];

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
