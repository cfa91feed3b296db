/**
 * The rollout workflow's changes that running rollouts must replay around, one `patched` name each. A
 * name is forever: renaming one breaks the replay of every run that recorded it.
 */

/** The change that pages discovery and runs pushes and health checks in shards, for `patched`. */
export const SHARDED_FLEET = 'sharded-fleet';
/** The change that prepares and writes the candidate as local activities, for `patched`. */
export const LOCAL_PREPARE_AND_WRITE = 'local-prepare-and-write';
/** The change that rolls back a rollout finding no instance instead of promoting it, for `patched`. */
export const FAIL_CLOSED_ON_EMPTY_FLEET = 'fail-closed-on-empty-fleet';
/** The change that added the last sweep after read caches expire, for `patched`. */
export const SWEEP_AFTER_READ_CACHES = 'sweep-after-read-caches';
/** The change that tells the config service's read caches of a promotion instead of waiting them out, for `patched`. */
export const READ_CACHE_NOTICES = 'read-cache-notices';
/** The change that bounded pauses and approval waits (and capped bakes lower), for `patched`. */
export const BOUNDED_HOLDS = 'bounded-holds';
/** The change that rolls a rollout of an older version forward to a copy of it, for `patched`. */
export const ROLL_FORWARD_TO_COPY = 'roll-forward-to-copy';
/** The change that publishes progress in a memo, readable without a worker, for `patched`. */
export const PUBLISH_PROGRESS = 'publish-progress';
/**
 * The change that rolls back on every end but success (an error at any step once the candidate may have
 * been pushed, a cancellation of the workflow), retries reverts, and reports reverted instances.
 */
export const ROLL_BACK_ON_ANY_FAILURE = 'roll-back-on-any-failure';
/** The change that holds waves at their boundary while frozen or outside the change windows, for `patched`. */
export const FREEZES_AND_WINDOWS = 'freezes-and-windows';
/** The change that watches a plan's CloudWatch alarms during each wave (workflows/alarmGate.ts), for `patched`. */
export const ALARM_GATE = 'alarm-gate';
/** The canary analysis gate after each wave's bake (plan.canary), for `patched`. */
export const CANARY_ANALYSIS = 'canary-analysis';
