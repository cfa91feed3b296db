import { readFileSync } from 'node:fs';
import type { StartRollout } from '../common/api/rollouts';
import { optionFlag, type PlanOptions, planOf } from './planOptions';
import { UsageError } from './usageError';

/** `rollout start`'s options after commander parsed each one (cli/optionParsers.ts). */
export interface StartOptions extends PlanOptions {
  readonly value?: string;
  readonly valueFile?: string;
  readonly version?: number;
  readonly remove?: boolean;
  readonly service?: string;
  readonly target?: readonly string[];
  readonly allowShapeChange?: boolean;
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
    ...(options.allowShapeChange ? { allowShapeChange: true } : {}),
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
        : `give only one of --value, --value-file, --version and --remove (got ${given.map(optionFlag).join(', ')})`,
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
