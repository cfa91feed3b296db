import type { RolloutPlan, RolloutState } from '../common/rollout';
import type { RolloutSummary } from '../common/rolloutApi';

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
  readonly copyOf?: number;
}

export interface ValueSchema {
  readonly key: string;
  readonly version: number;
  readonly schema: object;
  readonly updatedAt: string;
  readonly updatedBy: string;
}

/** An out-of-band plan (RolloutPlanEntry): what Parameter Store edits of matching keys roll out with. */
export interface RolloutPlanEntry {
  readonly selector: string;
  readonly service?: string;
  readonly plan: RolloutPlan;
  readonly updatedAt: string;
  readonly updatedBy: string;
}

export interface Items<T> {
  readonly items: readonly T[];
}

export type {
  RolloutAction,
  RolloutStarted,
  RolloutSummary,
  RolloutView as Rollout,
  StartRolloutBody as StartRollout,
  TimelineEntry,
} from '../common/rolloutApi';
export { ROLLOUT_ACTIONS } from '../common/rolloutApi';

/** A paged list: pass `nextPageToken` back as `pageToken` for the next page. */
export interface Page<T> extends Items<T> {
  readonly nextPageToken?: string;
}

export type RolloutPage = Page<RolloutSummary>;

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
