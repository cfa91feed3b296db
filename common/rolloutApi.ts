import type { RolloutPlan, RolloutProgress, RolloutState } from './rollout';

/**
 * The rollout REST API's JSON (server/http/openapi.ts names these schemas), defined once for the server
 * that answers with it and the CLI that reads it.
 */

/** POST /v1/rollouts: exactly one of `value` (a new version) and `version` (an existing one). */
export interface StartRolloutBody {
  readonly key: string;
  readonly service?: string;
  readonly value?: string;
  readonly version?: number;
  /** Roll out the key's removal: instances forget it, then the store deletes it. */
  readonly remove?: true;
  readonly targetServices?: readonly string[];
  /** Fields left out take the server's defaults. */
  readonly plan?: Partial<RolloutPlan>;
  /** Shape guard: confirms a change of size or shape past the plan's factor (common/shapeGuard.ts). */
  readonly allowShapeChange?: boolean;
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

/**
 * GET /v1/rollouts/{id}, the steering actions' answers and each `progress` server-sent event: the
 * workflow's progress with the rollout's ids. Fields the OpenAPI schema does not require are optional
 * here too, so a client stays tolerant of what the contract allows.
 */
export interface RolloutView
  extends Pick<RolloutProgress, 'state' | 'key' | 'waves' | 'instances' | 'audit'>,
    Partial<Omit<RolloutProgress, 'state' | 'key' | 'waves' | 'instances' | 'audit'>> {
  readonly rolloutId: string;
  readonly workflowId: string;
  /**
   * Present when no worker answered: the progress is what the rollout last published, at this time
   * (ISO 8601). The rollout goes on once a worker is back; absent when the answer is current or final.
   */
  readonly staleSince?: string;
}

export interface TimelineEntry {
  readonly at: string;
  readonly kind:
    | 'started'
    | 'state'
    | 'push'
    | 'health'
    | 'action'
    | 'bake'
    | 'wait'
    | 'finished'
    // A gate's verdict (the alarm gate: what tripped it, or that it passed a wave).
    | 'gate'
    // Canary analysis gate (issue 11).
    | 'canary';
  readonly summary: string;
  readonly actor?: string;
  readonly succeeded?: number;
  readonly failed?: number;
  readonly state?: string;
}

/** The steering actions: POST /v1/rollouts/{id}/{action}. */
export const ROLLOUT_ACTIONS = ['approve', 'pause', 'resume', 'abort'] as const;
export type RolloutAction = (typeof ROLLOUT_ACTIONS)[number];
