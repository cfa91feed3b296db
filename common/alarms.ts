/**
 * The alarm gate's vocabulary: which CloudWatch alarms a plan may name, and where they are looked up.
 * Plain data only: this module is imported by workflow code.
 */

/**
 * One alarm, or every alarm whose name starts with a prefix. Either is the tenant's own: it is looked up
 * under `config-rollouts/<tenantId>/` (tenantAlarmName), so a plan can name no other tenant's alarm.
 */
import type { AlarmSelector } from './api/plans';

export type { AlarmSelector };

/** Where a tenant's alarms live; operators create them there (by convention `<service>/<alarm>` below). */
export const ALARM_NAMESPACE = 'config-rollouts';
/** Selectors one plan may give: each costs a DescribeAlarms call per poll at most. */
export const MAX_ALARM_SELECTORS = 10;
/** Alarms one prefix may match; a prefix matching more fails the gate (closed), not silently fewer. */
export const MAX_ALARMS_PER_PREFIX = 20;
/** CloudWatch allows 255 characters; the namespace and a 64-character tenant id take the rest. */
export const MAX_ALARM_NAME_LENGTH = 160;

export const ALARM_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:/-]*$/;

/** The CloudWatch name of a tenant's alarm (or the start of it, for a prefix). */
export function tenantAlarmName(tenantId: string, name: string): string {
  return `${ALARM_NAMESPACE}/${tenantId}/${name}`;
}

/** Every problem with a plan's `alarms`, each naming its field; empty when they are valid or absent. */
export function alarmProblems(alarms: unknown): string[] {
  if (alarms === undefined) return [];
  if (!Array.isArray(alarms)) return ['plan.alarms: a list of {name} or {prefix} selectors'];
  const problems: string[] = [];
  if (alarms.length > MAX_ALARM_SELECTORS)
    problems.push(`plan.alarms: at most ${MAX_ALARM_SELECTORS} selectors`);
  const seen = new Map<string, number>();
  alarms.slice(0, MAX_ALARM_SELECTORS + 1).forEach((selector: unknown, i) => {
    const field = `plan.alarms[${i}]`;
    const { name, prefix } = (selector ?? {}) as { name?: unknown; prefix?: unknown };
    const given = [name, prefix].filter((value) => value !== undefined);
    if (typeof selector !== 'object' || given.length !== 1) {
      problems.push(`${field}: give exactly one of name and prefix`);
      return;
    }
    const kind = name !== undefined ? 'name' : 'prefix';
    const value = given[0];
    if (
      typeof value !== 'string' ||
      value.length > MAX_ALARM_NAME_LENGTH ||
      !ALARM_NAME_PATTERN.test(value)
    ) {
      problems.push(
        `${field}.${kind}: 1 to ${MAX_ALARM_NAME_LENGTH} of A-Z a-z 0-9 _ . : / -, starting with a letter or ` +
          `digit (looked up under ${ALARM_NAMESPACE}/<tenant>/)`,
      );
      return;
    }
    const before = seen.get(`${kind}:${value}`);
    if (before !== undefined) problems.push(`${field}: the same ${kind} as plan.alarms[${before}]`);
    else seen.set(`${kind}:${value}`, i);
  });
  return problems;
}
