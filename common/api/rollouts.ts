import { CONFIG_KEY_PATTERN, SERVICE_NAME_PATTERN } from '../identifiers';
import { ROLLOUT_STATES } from '../rollout';
import { pageOf } from './lists';
import { planSchema } from './plans';
import { type Json, MAX_JSON_INTEGER, z } from './zod';

/**
 * Rollouts as the REST API starts, shows and lists them, and as the workflow reports its progress: the
 * workflow's RolloutProgress (common/rollout.ts) and the API's `Rollout` are this module's schemas.
 */

export const rolloutStateSchema = z.enum(ROLLOUT_STATES).openapi('RolloutState');

/** Requests and errors one group of instances recorded in an analysis window. */
export const outcomeTallySchema = z
  .object({ instances: z.number().int(), requests: z.number().int(), errors: z.number().int() })
  .openapi('OutcomeTally');

export const waveCanarySchema = z
  .object({
    /**
     * `measuring` while the window is open; `passed`, `regressed` (rolled back); `insufficient` (too few
     * samples at the bound: `passed` says what the plan made of it); `skipped` on the last wave.
     */
    verdict: z.enum(['measuring', 'passed', 'regressed', 'insufficient', 'skipped']),
    candidate: outcomeTallySchema,
    baseline: outcomeTallySchema,
    /** The test statistic and the bound it was held to, once both groups had enough samples. */
    z: z.number().optional(),
    threshold: z.number().optional(),
    /** Bake added so far while waiting for samples. */
    extraBakeSeconds: z.number().int(),
    untrusted: z
      .number()
      .int()
      .describe('Instances left out: counters absurd (negative, more errors than requests, going back)'),
    summary: z.string(),
  })
  .describe("A wave's canary analysis (plans with `canary`)")
  .openapi('WaveCanary');

const waveProgressSchema = z.object({
  index: z.number().int(),
  /** Instances this wave brings the fleet up to (cumulative). */
  targetInstances: z.number().int(),
  updated: z.number().int(),
  failed: z.number().int(),
  state: z.enum(['pending', 'pushing', 'baking', 'awaiting-approval', 'done', 'failed']),
  canary: waveCanarySchema.optional(),
});

export const auditEntrySchema = z
  .object({
    at: z.string(),
    actor: z.string(),
    // Freezes: held by a freeze at a wave boundary (the freeze's actor and reason), and let go.
    action: z.enum(['start', 'approve', 'pause', 'resume', 'abort', 'freeze', 'unfreeze']),
    reason: z.string().optional(),
  })
  .openapi('AuditEntry');

/** Why a rollout waits at a wave boundary that no release manager paused it at. */
const rolloutHoldSchema = z
  .discriminatedUnion('gate', [
    z.object({
      gate: z.literal('freeze'),
      scope: z.enum(['tenant', 'platform']),
      frozenBy: z.string(),
      frozenAt: z.string(),
      reason: z.string(),
    }),
    /** Outside the tenant's change windows: waits for `until`, the next one's opening (ISO 8601, UTC). */
    z.object({ gate: z.literal('change-window'), until: z.string() }),
  ])
  .describe(
    "What holds the rollout at a wave boundary (state PAUSED): a freeze (who, when, why) or the tenant's " +
      'change windows (`until`: the next one opens)',
  );

const instanceFailureSchema = z.object({ instanceId: z.string(), reason: z.string() });

/** What the workflow's progress query answers and what it publishes in its memo. */
export const rolloutProgressSchema = z.object({
  state: rolloutStateSchema,
  /** What is rolled out: a new value, an existing version, or the key's removal (RolloutChange's kinds). */
  change: z.enum(['set', 'existing', 'remove']),
  tenantId: z.string(),
  key: z.string(),
  service: z.string().optional(),
  candidateVersion: z.number().int().optional(),
  copyOf: z
    .number()
    .int()
    .describe('The candidate is a copy of this older version: going back to it rolls forward')
    .optional(),
  previousVersion: z.number().int().optional(),
  currentWave: z.number().int(),
  waves: z.array(waveProgressSchema),
  instances: z.object({
    total: z.number().int(),
    updated: z.number().int(),
    failed: z.number().int(),
    pending: z.number().int(),
    /**
     * One that had failed the candidate is counted in `failed` as well, and `pending` counts neither
     * twice.
     */
    reverted: z
      .number()
      .int()
      .describe('Sent the candidate, then confirmed back on the previous version by a rollback'),
  }),
  failedInstances: z.array(instanceFailureSchema),
  paused: z.boolean(),
  approvalDeadline: z
    .string()
    .describe('While AWAITING_APPROVAL: when the rollout rolls back unless approved')
    .optional(),
  outcome: z.string().optional(),
  audit: z.array(auditEntrySchema),
  // Freezes and change windows: what holds the rollout at a wave boundary (state PAUSED) while it does.
  hold: rolloutHoldSchema.optional(),
});

const rolloutIdsSchema = z.object({ rolloutId: z.string(), workflowId: z.string() });

/**
 * GET /v1/rollouts/{id}, the steering actions' answers and each `progress` server-sent event: the
 * workflow's progress with the rollout's ids. Only what every answer has is required, so a client stays
 * tolerant of a run that published its state alone.
 */
export const rolloutSchema = rolloutIdsSchema
  .merge(
    rolloutProgressSchema
      .omit({ change: true, tenantId: true })
      .partial({ currentWave: true, failedInstances: true, paused: true }),
  )
  .extend({
    staleSince: z
      .string()
      .describe(
        'Present when no worker answered: the progress is what the rollout last published, at this time; it goes on once a worker is back',
      )
      .optional(),
  })
  .openapi('Rollout');

const serviceName = z.string().regex(SERVICE_NAME_PATTERN);

/** POST /v1/rollouts. */
export const startRolloutSchema = z
  .object({
    /**
     * Keys are checked here only for their characters: the service's own checks (prefix, `..`) answer
     * with more precise messages than a pattern mismatch would.
     */
    key: z.string().regex(CONFIG_KEY_PATTERN),
    service: serviceName.optional(),
    value: z.string().min(1).max(409600).optional(),
    version: z.number().int().min(1).max(MAX_JSON_INTEGER).optional(),
    /** Roll out the key's removal: instances forget it, then the store deletes it. */
    remove: z.literal(true).optional(),
    targetServices: z
      .array(serviceName)
      .min(1)
      .max(50)
      .openapi({ uniqueItems: true })
      .describe('Whose instances receive it; defaults to `service` for per-service keys')
      .optional(),
    plan: planSchema.optional(),
    /** Shape guard: confirms a change of size or shape past the plan's factor (common/shapeGuard.ts). */
    allowShapeChange: z
      .boolean()
      .describe("Confirm a change of size or shape past the plan's shapeGuard factor")
      .optional(),
  })
  .strict()
  .describe(
    'Exactly one of `value` (write and roll out a new version), `version` (roll out one already written) ' +
      'or `remove: true` (instances forget the key, then it is deleted)',
  )
  .openapi('StartRollout');

export const rolloutStartedSchema = rolloutIdsSchema
  .extend({ state: rolloutStateSchema })
  .openapi('RolloutStarted');

export const rolloutSummarySchema = rolloutIdsSchema
  .extend({
    key: z.string(),
    service: z.string().optional(),
    state: rolloutStateSchema,
    startedAt: z.string(),
    closedAt: z.string().optional(),
  })
  .openapi('RolloutSummary');

export const rolloutPageSchema = pageOf(rolloutSummarySchema);

export const actionRequestSchema = z
  .object({ reason: z.string().max(500).optional() })
  .strict()
  .openapi('ActionRequest');

export const timelineEntrySchema = z
  .object({
    at: z.string(),
    kind: z.enum([
      'started',
      'state',
      'push',
      'health',
      'action',
      'bake',
      'wait',
      'finished',
      // A gate's verdict (the alarm gate: what tripped it, or that it passed a wave).
      'gate',
      // Canary analysis gate (issue 11).
      'canary',
    ]),
    summary: z.string(),
    actor: z.string().optional(),
    succeeded: z.number().int().optional(),
    failed: z.number().int().optional(),
    state: z.string().optional(),
  })
  .openapi('TimelineEntry');

export type OutcomeTally = Json<typeof outcomeTallySchema>;
export type WaveCanary = Json<typeof waveCanarySchema>;
export type WaveProgress = Json<typeof waveProgressSchema>;
export type AuditEntry = Json<typeof auditEntrySchema>;
export type RolloutHold = Json<typeof rolloutHoldSchema>;
export type RolloutProgress = Json<typeof rolloutProgressSchema>;
export type Rollout = Json<typeof rolloutSchema>;
export type StartRollout = Json<typeof startRolloutSchema>;
export type RolloutStarted = Json<typeof rolloutStartedSchema>;
export type RolloutSummary = Json<typeof rolloutSummarySchema>;
export type RolloutPage = Json<typeof rolloutPageSchema>;
export type ActionRequest = Json<typeof actionRequestSchema>;
export type TimelineEntry = Json<typeof timelineEntrySchema>;
