import { readFileSync } from 'node:fs';
import {
  type ApprovalPolicy,
  DEFAULT_PUSH_SETTINGS,
  type RolloutPlan,
  type WaveStrategy,
  type WaveTarget,
} from '../common/rollout';
import type { StartRollout } from './apiTypes';
import { UsageError } from './usageError';

/** `rollout start`'s options after commander parsed each one (cli/optionParsers.ts). */
export interface StartOptions {
  readonly value?: string;
  readonly valueFile?: string;
  readonly version?: number;
  readonly remove?: boolean;
  readonly service?: string;
  readonly target?: readonly string[];
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
}

/**
 * The POST /v1/rollouts body (the StartRollout schema). Plan fields not given are left out, so the
 * server's defaults apply; the checks here are the ones that span several options.
 */
export function startRolloutBody(key: string, options: StartOptions): StartRollout {
  const plan = planOf(options);
  return {
    key,
    ...(options.service !== undefined ? { service: options.service } : {}),
    ...changeOf(options),
    ...(options.target?.length ? { targetServices: options.target } : {}),
    ...(Object.keys(plan).length > 0 ? { plan } : {}),
  };
}

function changeOf(options: StartOptions): { value: string } | { version: number } | { remove: true } {
  const given = (['value', 'valueFile', 'version', 'remove'] as const).filter(
    (name) => options[name] !== undefined && options[name] !== false,
  );
  if (given.length !== 1) {
    throw new UsageError(
      given.length === 0
        ? 'say what to roll out: --value, --value-file, --version or --remove'
        : `give only one of --value, --value-file, --version and --remove (got ${given.map(flag).join(', ')})`,
    );
  }
  if (options.remove) return { remove: true };
  if (options.version !== undefined) return { version: options.version };
  const value = options.valueFile !== undefined ? readValueFile(options.valueFile) : options.value;
  if (!value) throw new UsageError(`${options.valueFile ? '--value-file' : '--value'}: the value is empty`);
  return { value };
}

/**
 * The file's text, less one final line break: editors and `echo` add one, and a value such as an
 * endpoint URL must not carry it. Anything else, whitespace included, is the value.
 */
function readValueFile(path: string): string {
  try {
    return readFileSync(path, 'utf8').replace(/\r?\n$/, '');
  } catch (error) {
    throw new UsageError(`--value-file: cannot read ${path}: ${(error as Error).message}`);
  }
}

function planOf(options: StartOptions): Partial<RolloutPlan> {
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
  };
}

function strategyOf(options: StartOptions): WaveStrategy | undefined {
  const given = (['waves', 'linear', 'exponential'] as const).filter((name) => options[name] !== undefined);
  if (given.length > 1)
    throw new UsageError(
      `give at most one of --waves, --linear and --exponential (got ${given.map(flag).join(', ')})`,
    );
  if (options.waves) return { kind: 'explicit', waves: options.waves };
  if (options.linear !== undefined) return { kind: 'linear', stepPercent: options.linear };
  if (options.exponential) return { kind: 'exponential', ...options.exponential };
  return undefined;
}

/** The API takes the push settings together; one given alone keeps the others at the shared defaults. */
function pushOf(options: StartOptions): RolloutPlan['push'] {
  const { pushTimeout, pushAttempts, pushConcurrency } = options;
  if (pushTimeout === undefined && pushAttempts === undefined && pushConcurrency === undefined)
    return undefined;
  return {
    timeoutMs: pushTimeout ?? DEFAULT_PUSH_SETTINGS.timeoutMs,
    attempts: pushAttempts ?? DEFAULT_PUSH_SETTINGS.attempts,
    concurrency: pushConcurrency ?? DEFAULT_PUSH_SETTINGS.concurrency,
  };
}

function flag(option: string): string {
  return `--${option.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}`;
}
