import { ALARM_NAME_PATTERN, ALARM_NAMESPACE, MAX_ALARM_NAME_LENGTH, MAX_ALARM_SELECTORS } from '../alarms';
import {
  MAX_CANARY_CONFIDENCE,
  MAX_CANARY_SAMPLES,
  MIN_CANARY_CONFIDENCE,
  MIN_CANARY_SAMPLES,
} from '../canaryAnalysis';
import { CANARY_DEFAULTS, MAX_BAKE_SECONDS, MAX_PAUSE_SECONDS_LIMIT } from '../rollout';
import {
  DEFAULT_SHAPE_MAX_FACTOR,
  MAX_SHAPE_FACTOR_LIMIT,
  SHAPE_BYTES_FLOOR,
  SHAPE_COUNT_FLOOR,
} from '../shapeGuard';
import { type Json, z } from './zod';

/**
 * A rollout's plan: the REST contract's `Plan` and the workflow's RolloutPlan (common/rollout.ts) are
 * both this schema. The API's validator holds requests to it; the workflow's own checks
 * (common/rolloutPlan.ts planProblems) hold every plan, whatever started it, with messages of their own.
 */

const PERCENT_PATTERN = /^\d{1,3}(\.\d+)?%$/;
// zod 3 has no template-literal type: the pattern is what makes the text a `${number}%`.
const percent = z.string().regex(PERCENT_PATTERN) as unknown as z.ZodType<
  `${number}%`,
  z.ZodStringDef,
  string
>;

/** A wave's target: an instance count, or a percentage of the discovered fleet (`"10%"`). */
export const waveTargetSchema = z.union([z.number().int().min(1), percent]).openapi('WaveTarget');

/** How waves grow. Percentages are cumulative: `[1, "50%", "100%"]` is a canary, then half, then all. */
const strategySchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('explicit'), waves: z.array(waveTargetSchema).min(1).max(100) }).strict(),
  /** Like AppConfig's linear strategies: `stepPercent` more of the fleet each wave. */
  z.object({ kind: z.literal('linear'), stepPercent: z.number().gt(0).max(100) }).strict(),
  /** Like AppConfig's exponential strategies: start at `startPercent`, multiply by `growthFactor`. */
  z
    .object({
      kind: z.literal('exponential'),
      startPercent: z.number().gt(0).max(100),
      growthFactor: z.number().gt(1).max(100),
    })
    .strict(),
]);

/**
 * `none`: never wait for a person; `after-first-wave`: wait once, after the first (canary) wave;
 * `every-wave`: wait after every wave but the last.
 */
const approvalSchema = z.enum(['none', 'after-first-wave', 'every-wave']);

const pushSchema = z
  .object({
    /** Per-instance deadline of one Refresh call. */
    timeoutMs: z.number().int().min(100).max(60000),
    /** Tries per instance before it counts as failed. */
    attempts: z.number().int().min(1).max(10),
    /** Instances pushed to at once. */
    concurrency: z.number().int().min(1).max(256),
  })
  .strict();

const shapeGuardSchema = z
  .union([z.literal('off'), z.object({ maxFactor: z.number().gt(1).max(MAX_SHAPE_FACTOR_LIMIT) }).strict()])
  .describe(
    `How far the value's size, top-level keys or array items may move against the live value, ` +
      `either way, before a start is refused (422 ShapeChangeRefused); default maxFactor ` +
      `${DEFAULT_SHAPE_MAX_FACTOR}; measures under ${SHAPE_BYTES_FLOOR} bytes or ${SHAPE_COUNT_FLOOR} ` +
      'keys or items are not judged; "off" judges nothing',
  );

/** An alarm's name (or the start of one) below the tenant's alarm namespace. */
const alarmName = z.string().min(1).max(MAX_ALARM_NAME_LENGTH).regex(ALARM_NAME_PATTERN);

/**
 * One alarm, or every alarm whose name starts with a prefix. Either is the tenant's own: it is looked up
 * under `config-rollouts/<tenantId>/` (tenantAlarmName), so a plan can name no other tenant's alarm.
 */
const alarmSelectorSchema = z.union([
  z.object({ name: alarmName }).strict(),
  z.object({ prefix: alarmName }).strict(),
]);

/** The canary analysis' settings; every field has a default (CANARY_DEFAULTS), so `{}` turns it on. */
const canarySchema = z
  .object({
    minSamples: z
      .number()
      .int()
      .min(MIN_CANARY_SAMPLES)
      .max(MAX_CANARY_SAMPLES)
      .describe(
        `Requests each group must record in the window before the test runs (default ${CANARY_DEFAULTS.minSamples})`,
      ),
    confidence: z
      .number()
      .gt(MIN_CANARY_CONFIDENCE)
      .max(MAX_CANARY_CONFIDENCE)
      .describe(
        `The test's confidence that the candidate fails more often (default ${CANARY_DEFAULTS.confidence})`,
      ),
    maxExtraBakeSeconds: z
      .number()
      .int()
      .min(0)
      .max(MAX_BAKE_SECONDS)
      .describe(
        `How much longer a wave may bake waiting for samples; bake plus this at most ${MAX_BAKE_SECONDS} (default ${CANARY_DEFAULTS.maxExtraBakeSeconds})`,
      ),
    onInsufficientSamples: z
      .enum(['fail', 'pass'])
      .describe('Too few samples at the bound: roll back (fail, the default) or go on (pass)'),
  })
  .partial()
  .strict()
  .describe(
    "After each wave's bake but the last, compare the error ratio the instances holding the candidate " +
      'recorded (SDK `record`) with that of instances still on live (a one-sided two-proportion z-test); ' +
      'a significant rise rolls back. `{}` turns it on with the defaults',
  );

/** A plan in full, as the workflow runs it: the fields a client may leave out are optional here too. */
export const rolloutPlanSchema = z
  .object({
    strategy: strategySchema,
    /** Time each wave bakes (a durable timer) before its health gate passes. */
    bakeSeconds: z.number().int().min(0).max(MAX_BAKE_SECONDS),
    /**
     * The longest the rollout may stay paused, or wait for an approval, before it rolls back on its own:
     * a held candidate keeps pooled instances, shared with other tenants, on an unfinished change.
     * DEFAULT_MAX_PAUSE_SECONDS when absent.
     */
    maxPauseSeconds: z
      .number()
      .int()
      .min(1)
      .max(MAX_PAUSE_SECONDS_LIMIT)
      .describe('The longest the rollout may stay paused or wait for an approval; past it, it rolls back')
      .optional(),
    /** Lets the release manager who started the rollout approve it too (four-eyes is the default). */
    allowSelfApproval: z
      .boolean()
      .describe('Let the release manager who started the rollout approve it (default: another must)')
      .optional(),
    /**
     * With no instance there is nothing to gate the change on, and an empty discovery is as likely a
     * broken Cloud Map as an idle service: by default such a rollout rolls back.
     */
    allowEmptyFleet: z
      .boolean()
      .describe(
        'Promote even when no instance serves the tenant (default: roll back, nothing gates the change)',
      )
      .optional(),
    approval: approvalSchema,
    /** Roll back once more instances than this have failed (a count, or a percentage of the fleet). */
    maxFailures: z.union([z.number().int().min(0), percent]),
    push: pushSchema.optional(),
    // Shape guard and approvals that expire (issue 11):
    /** Judged by common/shapeGuard.ts; DEFAULT_SHAPE_MAX_FACTOR when absent. */
    shapeGuard: shapeGuardSchema.optional(),
    /** Past it the rollout rolls back with `approval timed out`. */
    approvalTimeoutSeconds: z
      .number()
      .int()
      .min(1)
      .max(MAX_PAUSE_SECONDS_LIMIT)
      .describe(
        'How long each approval is waited for; past it the rollout rolls back (default: maxPauseSeconds)',
      )
      .optional(),
    // Alarm gate (common/alarms.ts).
    alarms: z
      .array(alarmSelectorSchema)
      .max(MAX_ALARM_SELECTORS)
      .describe(
        "CloudWatch alarms that gate every wave: one in ALARM at any time during a wave's push or bake " +
          `rolls back. Names and prefixes are looked up under ${ALARM_NAMESPACE}/<tenant>/ only`,
      )
      .optional(),
    // Canary analysis gate (issue 11).
    canary: canarySchema.optional(),
  })
  .strict();

/** The REST contract's `Plan`: any field may be left out, and takes the default. */
export const planSchema = rolloutPlanSchema
  .partial()
  .describe(
    'Omitted fields take the defaults: waves [1, "10%", "50%", "100%"], 60 s bake, no approval, ' +
      '0 failures, a 24 h bound on pauses and approval waits, no self-approval',
  )
  .openapi('Plan');

export const putRolloutPlanSchema = z
  .object({ plan: planSchema })
  .strict()
  .describe(
    'Omitted plan fields take the out-of-band default: waves [1, "50%", "100%"], 30 s bake, no approval, 0 failures',
  )
  .openapi('PutRolloutPlan');

/** A plan as stored: complete, every field left out of the request given its default. */
const storedPlanSchema = rolloutPlanSchema.openapi('RolloutPlan');

/** An out-of-band plan: what Parameter Store edits of matching keys roll out with. */
export const rolloutPlanEntrySchema = z
  .object({
    selector: z.string(),
    service: z.string().optional(),
    plan: storedPlanSchema,
    updatedAt: z.string(),
    updatedBy: z.string().describe('The token subject that set it'),
  })
  .openapi('RolloutPlanEntry');

export type WaveTarget = Json<typeof waveTargetSchema>;
export type WaveStrategy = Json<typeof strategySchema>;
export type ApprovalPolicy = Json<typeof approvalSchema>;
export type PushSettings = Json<typeof pushSchema>;
export type ShapeGuardSetting = Json<typeof shapeGuardSchema>;
export type AlarmSelector = Json<typeof alarmSelectorSchema>;
export type CanaryPlan = Json<typeof canarySchema>;
export type RolloutPlan = Json<typeof rolloutPlanSchema>;
export type PutRolloutPlan = Json<typeof putRolloutPlanSchema>;
export type RolloutPlanEntry = Json<typeof rolloutPlanEntrySchema>;
