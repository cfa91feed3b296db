import { type Command, Option } from 'commander';
import {
  MAX_CANARY_CONFIDENCE,
  MAX_CANARY_SAMPLES,
  MIN_CANARY_CONFIDENCE,
  MIN_CANARY_SAMPLES,
} from '../common/canaryAnalysis';
import {
  type ApprovalPolicy,
  type CanaryPlan,
  DEFAULT_PUSH_SETTINGS,
  MAX_BAKE_SECONDS,
  MAX_PAUSE_SECONDS_LIMIT,
  type RolloutPlan,
  type WaveStrategy,
  type WaveTarget,
} from '../common/rollout';
import { DEFAULT_SHAPE_MAX_FACTOR, type ShapeGuardSetting } from '../common/shapeGuard';
import {
  alarmNames,
  duration,
  exponentialGrowth,
  failureTolerance,
  integerFrom,
  linearStep,
  shapeGuard,
  probability,
  waveList,
} from './optionParsers';
import { UsageError } from './usageError';

/** A plan's options after commander parsed each one: `rollout start` and `plan set` take the same. */
export interface PlanOptions {
  readonly waves?: readonly WaveTarget[];
  readonly linear?: number;
  readonly exponential?: { readonly startPercent: number; readonly growthFactor: number };
  readonly bake?: number;
  readonly approval?: ApprovalPolicy;
  readonly maxFailures?: WaveTarget;
  readonly maxPause?: number;
  readonly allowSelfApproval?: boolean;
  readonly allowEmptyFleet?: boolean;
  readonly pushTimeout?: number;
  readonly pushAttempts?: number;
  readonly pushConcurrency?: number;
  // Shape guard and approvals that expire:
  readonly shapeGuard?: ShapeGuardSetting;
  readonly approvalTimeout?: number;
  // Alarm gate.
  readonly alarm?: readonly string[];
  readonly alarmPrefix?: readonly string[];
  // Canary analysis gate (issue 11).
  readonly canary?: boolean;
  readonly canaryMinSamples?: number;
  readonly canaryConfidence?: number;
  readonly canaryMaxExtraBake?: number;
  readonly canaryOnInsufficient?: 'fail' | 'pass';
}

/** Adds the plan options to a command. */
export function withPlanOptions(command: Command): Command {
  return (
    command
      .option(
        '--waves <list>',
        'cumulative waves: instance counts or percentages, e.g. 1,10%,50%,100%',
        waveList,
      )
      .option('--linear <step%>', 'grow by this share of the fleet each wave, e.g. 20%', linearStep)
      .option(
        '--exponential <start%xfactor>',
        'start at a share and multiply it each wave, e.g. 1%x2',
        exponentialGrowth,
      )
      .option(
        '--bake <seconds>',
        'time each wave bakes before its health gate',
        integerFrom(0, MAX_BAKE_SECONDS),
      )
      .addOption(
        new Option('--approval <policy>', 'when to wait for a release manager').choices([
          'none',
          'after-first-wave',
          'every-wave',
        ]),
      )
      .option('--max-failures <n|n%>', 'failed instances tolerated before rolling back', failureTolerance)
      .option(
        '--max-pause <seconds>',
        'longest pause or approval wait before it rolls back (default 86400)',
        integerFrom(1, MAX_PAUSE_SECONDS_LIMIT),
      )
      .option('--allow-self-approval', 'let whoever starts it approve it too (default: another must)')
      .option('--allow-empty-fleet', 'promote even when no instance serves the tenant (default: roll back)')
      .option('--push-timeout <ms>', "each push's deadline", integerFrom(100, 60_000))
      .option('--push-attempts <n>', 'tries per instance', integerFrom(1, 10))
      .option('--push-concurrency <n>', 'instances pushed to at once', integerFrom(1, 256))
      .option(
        '--shape-guard <factor|off>',
        `refuse a value whose size, top-level keys or items move by more than this factor (default ${DEFAULT_SHAPE_MAX_FACTOR})`,
        shapeGuard,
      )
      .option(
        '--approval-timeout <duration>',
        'roll back when an approval is not given within this, e.g. 2h, 30m, 90s (default: --max-pause)',
        duration(1, MAX_PAUSE_SECONDS_LIMIT),
      )
      // Alarm gate.
      .option(
        '--alarm <name>',
        "a CloudWatch alarm of the tenant's (under config-rollouts/<tenant>/) that rolls back a wave in ALARM; repeatable",
        alarmNames,
      )
      .option(
        '--alarm-prefix <prefix>',
        "every tenant's alarm whose name starts so, likewise; repeatable",
        alarmNames,
      )
      // Canary analysis gate (issue 11).
      .option(
        '--canary',
        "compare each wave's error ratio (SDK record) with instances still on live; any --canary-* option implies it",
      )
      .option(
        '--canary-min-samples <n>',
        'requests each group must record before the test runs (default 100)',
        integerFrom(MIN_CANARY_SAMPLES, MAX_CANARY_SAMPLES),
      )
      .option(
        '--canary-confidence <p>',
        "the test's confidence that the candidate fails more often (default 0.95)",
        probability(MIN_CANARY_CONFIDENCE, MAX_CANARY_CONFIDENCE),
      )
      .option(
        '--canary-max-extra-bake <duration>',
        'how much longer a wave may bake waiting for samples, e.g. 5m (default 5m)',
        duration(0, MAX_BAKE_SECONDS),
      )
      .addOption(
        new Option(
          '--canary-on-insufficient <outcome>',
          'too few samples at the bound: roll back (fail, the default) or go on (pass)',
        ).choices(['fail', 'pass']),
      )
  );
}

/**
 * The plan the options give. Fields not given are left out, so the server's defaults apply; the checks
 * here are the ones that span several options.
 */
export function planOf(options: PlanOptions): Partial<RolloutPlan> {
  const strategy = strategyOf(options);
  const push = pushOf(options);
  return {
    ...(strategy ? { strategy } : {}),
    ...(options.bake !== undefined ? { bakeSeconds: options.bake } : {}),
    ...(options.approval !== undefined ? { approval: options.approval } : {}),
    ...(options.maxFailures !== undefined ? { maxFailures: options.maxFailures } : {}),
    ...(options.maxPause !== undefined ? { maxPauseSeconds: options.maxPause } : {}),
    ...(options.allowSelfApproval ? { allowSelfApproval: true } : {}),
    ...(options.allowEmptyFleet ? { allowEmptyFleet: true } : {}),
    ...(push ? { push } : {}),
    ...(options.shapeGuard !== undefined ? { shapeGuard: options.shapeGuard } : {}),
    ...(options.approvalTimeout !== undefined ? { approvalTimeoutSeconds: options.approvalTimeout } : {}),
    ...alarmsOf(options),
    ...canaryOf(options),
  };
}

/** Alarm gate: names first, then prefixes, as the API takes them. */
function alarmsOf(options: PlanOptions): Pick<RolloutPlan, 'alarms'> {
  const alarms = [
    ...(options.alarm ?? []).map((name) => ({ name })),
    ...(options.alarmPrefix ?? []).map((prefix) => ({ prefix })),
  ];
  return alarms.length > 0 ? { alarms } : {};
}

/** `plan.canary` when any canary option is given; the fields not given take the server's defaults. */
function canaryOf(options: PlanOptions): { canary?: CanaryPlan } {
  const { canary, canaryMinSamples, canaryConfidence, canaryMaxExtraBake, canaryOnInsufficient } = options;
  const settings: CanaryPlan = {
    ...(canaryMinSamples !== undefined ? { minSamples: canaryMinSamples } : {}),
    ...(canaryConfidence !== undefined ? { confidence: canaryConfidence } : {}),
    ...(canaryMaxExtraBake !== undefined ? { maxExtraBakeSeconds: canaryMaxExtraBake } : {}),
    ...(canaryOnInsufficient !== undefined ? { onInsufficientSamples: canaryOnInsufficient } : {}),
  };
  return canary || Object.keys(settings).length > 0 ? { canary: settings } : {};
}

function strategyOf(options: PlanOptions): WaveStrategy | undefined {
  const given = (['waves', 'linear', 'exponential'] as const).filter((name) => options[name] !== undefined);
  if (given.length > 1)
    throw new UsageError(
      `give at most one of --waves, --linear and --exponential (got ${given.map(optionFlag).join(', ')})`,
    );
  if (options.waves) return { kind: 'explicit', waves: options.waves };
  if (options.linear !== undefined) return { kind: 'linear', stepPercent: options.linear };
  if (options.exponential) return { kind: 'exponential', ...options.exponential };
  return undefined;
}

/** The API takes the push settings together; one given alone keeps the others at the shared defaults. */
function pushOf(options: PlanOptions): RolloutPlan['push'] {
  const { pushTimeout, pushAttempts, pushConcurrency } = options;
  if (pushTimeout === undefined && pushAttempts === undefined && pushConcurrency === undefined)
    return undefined;
  return {
    timeoutMs: pushTimeout ?? DEFAULT_PUSH_SETTINGS.timeoutMs,
    attempts: pushAttempts ?? DEFAULT_PUSH_SETTINGS.attempts,
    concurrency: pushConcurrency ?? DEFAULT_PUSH_SETTINGS.concurrency,
  };
}

/** `--value-file` for the option `valueFile`. */
export function optionFlag(option: string): string {
  return `--${option.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}`;
}
