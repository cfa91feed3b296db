import { InvalidArgumentError } from 'commander';
import { alarmProblems, MAX_ALARM_SELECTORS } from '../common/alarms';
import { CONFIG_KEY_PATTERN, SERVICE_NAME_PATTERN } from '../common/identifiers';
import { assertPlanScope } from '../common/outOfBandPlans';
import type { WaveTarget } from '../common/rollout';
import { MAX_SHAPE_FACTOR_LIMIT, type ShapeGuardSetting } from '../common/shapeGuard';

/**
 * Commander argument parsers: each turns one option's text into the value the request needs, or throws
 * commander's InvalidArgumentError, which commander reports naming the option (exit code 2). The limits
 * are the API's (server/http/openapi.ts), checked here so a typo costs no round trip.
 */

const PERCENT = /^(\d{1,3}(?:\.\d+)?)%$/;

export function positiveInteger(text: string): number {
  if (!/^[1-9]\d{0,15}$/.test(text)) throw new InvalidArgumentError('must be a positive integer');
  return Number(text);
}

export function integerFrom(min: number, max: number): (text: string) => number {
  return (text) => {
    const value = /^\d{1,16}$/.test(text) ? Number(text) : NaN;
    if (!(value >= min && value <= max))
      throw new InvalidArgumentError(`must be an integer from ${min} to ${max}`);
    return value;
  };
}

export function configKey(text: string): string {
  if (!CONFIG_KEY_PATTERN.test(text) || text.includes('..'))
    throw new InvalidArgumentError('use 1-128 letters, digits, "_", "-" or "." (no "..")');
  return text;
}

/** `param_config_endpoint` or `param_config_flag_*`: the keys an out-of-band plan applies to. */
export function planSelector(text: string): string {
  try {
    assertPlanScope({ selector: text });
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message.replace(/^selector: /, ''));
  }
  return text;
}

export function serviceName(text: string): string {
  if (!SERVICE_NAME_PATTERN.test(text) || text.includes('..'))
    throw new InvalidArgumentError(
      'use 1-64 letters, digits, "_", "-" or ".", starting with a letter or digit',
    );
  return text;
}

/** For a repeatable option: every service named so far, each once (the API refuses duplicates). */
export function serviceNames(text: string, previous: readonly string[] = []): string[] {
  const name = serviceName(text);
  return previous.includes(name) ? [...previous] : [...previous, name];
}

/**
 * A rollout id as the API printed it (`{runId}~{key}`, or `…~{service}`). Its parts are the server's
 * business; the length bounds are the API's, and the rest is left for the API to judge.
 */
export function rolloutId(text: string): string {
  if (text.length < 38 || text.length > 240 || /[\s/]/.test(text))
    throw new InvalidArgumentError('expected the id that "rollout start" or "rollout list" printed');
  return text;
}

/** Why, for the audit trail: the API keeps at most 500 characters. */
export function reason(text: string): string {
  if (text.length > 500) throw new InvalidArgumentError('at most 500 characters');
  return text;
}

/** `1,10%,50%,100%`: cumulative wave sizes, each an instance count or a percentage of the fleet. */
export function waveList(text: string): WaveTarget[] {
  const entries = text.split(',').map((entry) => entry.trim());
  if (entries.length > 100) throw new InvalidArgumentError('at most 100 waves');
  return entries.map((entry) => {
    if (/^[1-9]\d{0,15}$/.test(entry)) return Number(entry);
    const percent = percentage(entry);
    if (percent === undefined)
      throw new InvalidArgumentError(
        `"${entry}" is neither a positive integer nor a percentage from 0% (exclusive) to 100%`,
      );
    return percent;
  });
}

/** `20%`: the share of the fleet each wave adds; the `%` may be left out. */
export function linearStep(text: string): number {
  const step = percentValue(text.endsWith('%') ? text : `${text}%`);
  if (step === undefined)
    throw new InvalidArgumentError('a percentage above 0% and at most 100%, such as 20%');
  return step;
}

/** `1%x2`: start at 1% of the fleet and double each wave. */
export function exponentialGrowth(text: string): { startPercent: number; growthFactor: number } {
  const match = /^(\d{1,3}(?:\.\d+)?)%?x(\d{1,3}(?:\.\d+)?)$/i.exec(text);
  const startPercent = match ? percentValue(`${match[1]}%`) : undefined;
  const growthFactor = Number(match?.[2]);
  if (startPercent === undefined || !(growthFactor > 1 && growthFactor <= 100))
    throw new InvalidArgumentError(
      'START%xFACTOR: a start above 0% and at most 100%, a factor above 1 and at most 100, such as 1%x2',
    );
  return { startPercent, growthFactor };
}

/** How many failed instances a rollout tolerates: a count (0 or more) or a percentage of the fleet. */
export function failureTolerance(text: string): WaveTarget {
  if (/^\d{1,16}$/.test(text)) return Number(text);
  const percent = percentage(text);
  if (percent === undefined)
    throw new InvalidArgumentError(
      'a count (0 or more) or a percentage above 0% and at most 100%, such as 5%',
    );
  return percent;
}

/** `3` (a factor above 1) or `off`: how far a value's shape may move against the live one. */
export function shapeGuard(text: string): ShapeGuardSetting {
  if (text === 'off') return 'off';
  const maxFactor = /^\d{1,4}(\.\d+)?$/.test(text) ? Number(text) : NaN;
  if (!(maxFactor > 1 && maxFactor <= MAX_SHAPE_FACTOR_LIMIT))
    throw new InvalidArgumentError(
      `"off", or a factor above 1 and at most ${MAX_SHAPE_FACTOR_LIMIT}, such as 3`,
    );
  return { maxFactor };
}

const DURATION_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** `2h`, `30m`, `90s`, `1d` or plain seconds, as whole seconds within the bounds. */
export function duration(min: number, max: number): (text: string) => number {
  return (text) => {
    const match = /^(\d{1,9})([smhd]?)$/.exec(text);
    const seconds = match ? Number(match[1]) * DURATION_UNITS[match[2] || 's']! : NaN;
    if (!(seconds >= min && seconds <= max))
      throw new InvalidArgumentError(
        `a duration such as 2h, 30m or 90s (or seconds), from ${min} s to ${max} s`,
      );
    return seconds;
  };
}

/** `12.5%` as the API spells it, when it is above 0% and at most 100%. */
function percentage(text: string): `${number}%` | undefined {
  const value = percentValue(text);
  return value === undefined ? undefined : `${value}%`;
}

function percentValue(text: string): number | undefined {
  const match = PERCENT.exec(text);
  const value = Number(match?.[1]);
  return value > 0 && value <= 100 ? value : undefined;
}

/** Alarm gate: a repeatable alarm name or prefix, checked as the API checks it. */
export function alarmNames(text: string, previous: readonly string[] = []): string[] {
  const [problem] = alarmProblems([{ name: text }]);
  if (problem) throw new InvalidArgumentError(problem.replace(/^plan\.alarms\[0\]\.name: /, ''));
  if (previous.length >= MAX_ALARM_SELECTORS)
    throw new InvalidArgumentError(`at most ${MAX_ALARM_SELECTORS} alarms and prefixes together`);
  return [...previous, text];
}

/** A probability above `min` and at most `max`, such as 0.95. */
export function probability(min: number, max: number): (text: string) => number {
  return (text) => {
    const value = /^0?\.\d{1,6}$/.test(text) ? Number(text) : NaN;
    if (!(value > min && value <= max))
      throw new InvalidArgumentError(`a number above ${min} and at most ${max}, such as 0.95`);
    return value;
  };
}
