import type { AuditEntry, RolloutPlan, RolloutState, WaveProgress } from '../common/rollout';

/**
 * The REST API's JSON as the CLI reads and sends it: the schemas of server/http/openapi.ts, by name.
 * The vocabulary (states, plans, waves, audit entries) is common/rollout.ts's, shared with the server.
 */

export interface ConfigEntry {
  readonly key: string;
  readonly service?: string;
  readonly version: number;
  readonly value: string;
  readonly format: 'json' | 'text';
  readonly updatedAt: string;
}

export interface ConfigVersion extends ConfigEntry {
  readonly live: boolean;
  readonly writtenBy?: string;
}

export interface Items<T> {
  readonly items: readonly T[];
}

/** Exactly one of `value` and `version`. */
export interface StartRollout {
  readonly key: string;
  readonly service?: string;
  readonly value?: string;
  readonly version?: number;
  readonly targetServices?: readonly string[];
  /** Fields left out take the server's defaults. */
  readonly plan?: Partial<RolloutPlan>;
}

export interface RolloutStarted {
  readonly rolloutId: string;
  readonly workflowId: string;
  readonly state: RolloutState;
}

export interface RolloutSummary {
  readonly rolloutId: string;
  readonly workflowId: string;
  readonly key: string;
  readonly service?: string;
  readonly state: RolloutState;
  readonly startedAt: string;
  readonly closedAt?: string;
}

export interface RolloutPage extends Items<RolloutSummary> {
  readonly nextPageToken?: string;
}

export interface Rollout {
  readonly rolloutId: string;
  readonly workflowId: string;
  readonly state: RolloutState;
  readonly key: string;
  readonly service?: string;
  readonly candidateVersion?: number;
  readonly previousVersion?: number;
  readonly currentWave?: number;
  readonly paused?: boolean;
  readonly outcome?: string;
  readonly waves: readonly WaveProgress[];
  readonly instances: {
    readonly total: number;
    readonly updated: number;
    readonly failed: number;
    readonly pending: number;
  };
  readonly failedInstances?: readonly { readonly instanceId: string; readonly reason: string }[];
  readonly audit: readonly AuditEntry[];
}

export interface TimelineEntry {
  readonly at: string;
  readonly kind: 'started' | 'state' | 'push' | 'health' | 'action' | 'bake' | 'finished';
  readonly summary: string;
  readonly actor?: string;
  readonly wave?: number;
  readonly succeeded?: number;
  readonly failed?: number;
  readonly state?: string;
}

/** The steering actions: POST /v1/rollouts/{id}/{action}. */
export const ROLLOUT_ACTIONS = ['approve', 'pause', 'resume', 'abort'] as const;
export type RolloutAction = (typeof ROLLOUT_ACTIONS)[number];

/** Every state, for `rollout list --state`: a Record, so the compiler holds it to common/rollout.ts. */
const STATES: Record<RolloutState, true> = {
  PREPARING: true,
  ROLLING_OUT: true,
  BAKING: true,
  AWAITING_APPROVAL: true,
  PAUSED: true,
  PROMOTING: true,
  SUCCEEDED: true,
  ROLLING_BACK: true,
  ROLLED_BACK: true,
  FAILED: true,
};
export const ROLLOUT_STATES = Object.keys(STATES) as RolloutState[];
