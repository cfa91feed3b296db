/**
 * Freezes and change windows: when rollouts may push to instances at all. A freeze (a tenant's, set by
 * its release managers, or the platform's, set by a platform administrator) refuses new rollouts and
 * holds running ones at their next wave boundary; a tenant's change windows (UTC days and hours) hold a
 * wave until the next one opens. Plain data and pure functions: the workflow imports this module.
 */
import type { ChangeWindow, FreezeInForce, StoredChangeWindows } from './api/freezes';

export const MAX_FREEZE_REASON_LENGTH = 500;
/** Enough for a working week's shifts, few enough that every wave boundary reads them in one item. */
export const MAX_CHANGE_WINDOWS = 20;

/** A freeze in force: its fields are the REST contract's (common/api/freezes.ts). */
export type Freeze = FreezeInForce;
export type FreezeScope = Freeze['scope'];

/** Days as JavaScript's getUTCDay numbers them (0 is Sunday). */
export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export type { ChangeWindow, StoredChangeWindows };

/** What a wave boundary reads, in one round trip: both freezes and the tenant's windows, where set. */
export interface RolloutGates {
  readonly platformFreeze?: Freeze;
  readonly tenantFreeze?: Freeze;
  readonly changeWindows?: readonly ChangeWindow[];
}

/** What the freeze and window endpoints tell running rollouts; they read the gates again on it. */
export interface GatesChange {
  readonly actor: string;
  readonly action: 'freeze' | 'unfreeze' | 'windows';
}

/** The freeze that holds a tenant's rollouts: the platform's first, it outranks the tenant's. */
export function activeFreeze(gates: RolloutGates): Freeze | undefined {
  return gates.platformFreeze ?? gates.tenantFreeze;
}

/** "the platform was frozen by alice at …: reason", for errors, outcomes and status. */
export function describeFreeze(freeze: Freeze, tenantId?: string): string {
  const what = freeze.scope === 'platform' ? 'the platform' : `tenant ${tenantId ?? ''}`.trim();
  return `${what} was frozen by ${freeze.frozenBy} at ${freeze.frozenAt}: ${freeze.reason}`;
}

/** A freeze's reason: required, bounded, one line (it ends up in outcomes and audit). */
export function freezeReasonProblem(reason: unknown): string | undefined {
  if (typeof reason !== 'string' || reason.trim().length === 0) return 'reason: say why (required)';
  if (reason.length > MAX_FREEZE_REASON_LENGTH)
    return `reason: at most ${MAX_FREEZE_REASON_LENGTH} characters`;
  if (/[\u0000-\u001f\u007f]/.test(reason)) return 'reason: one line of text, no control characters';
  return undefined;
}

/** Every problem with a list of windows, each naming its field (`windows[0].days[1]: …`). */
export function changeWindowProblems(windows: unknown): string[] {
  if (!Array.isArray(windows) || windows.length === 0)
    return ['windows: give at least one window (or clear them)'];
  if (windows.length > MAX_CHANGE_WINDOWS) return [`windows: at most ${MAX_CHANGE_WINDOWS}`];
  return windows.flatMap((window: unknown, i) => {
    const at = `windows[${i}]`;
    if (typeof window !== 'object' || window === null)
      return [`${at}: an object with days, startHour, endHour`];
    const { days, startHour, endHour } = window as Record<string, unknown>;
    const problems: string[] = [];
    if (!Array.isArray(days) || days.length === 0 || days.length > 7)
      problems.push(`${at}.days: one to seven of ${WEEKDAYS.join(', ')}`);
    else
      days.forEach((day, d) => {
        if (!WEEKDAYS.includes(day as Weekday))
          problems.push(`${at}.days[${d}]: one of ${WEEKDAYS.join(', ')}`);
      });
    if (!Number.isInteger(startHour) || (startHour as number) < 0 || (startHour as number) > 23)
      problems.push(`${at}.startHour: an integer from 0 to 23`);
    if (!Number.isInteger(endHour) || (endHour as number) < 1 || (endHour as number) > 24)
      problems.push(`${at}.endHour: an integer from 1 to 24`);
    else if (Number.isInteger(startHour) && (endHour as number) <= (startHour as number))
      problems.push(`${at}.endHour: after startHour (a window ends on the day it starts)`);
    return problems;
  });
}

const HOUR_MS = 3_600_000;

/**
 * When the next window opens, seen from `at`; undefined when `at` is inside one, or no windows are set
 * (no windows: any time). Windows repeat weekly, so one is found within eight days.
 */
export function nextWindowOpening(windows: readonly ChangeWindow[] | undefined, at: Date): Date | undefined {
  if (!windows || windows.length === 0) return undefined;
  const hourStart = Math.floor(at.getTime() / HOUR_MS) * HOUR_MS;
  for (let hours = 0; hours <= 8 * 24; hours += 1) {
    const slot = new Date(hourStart + hours * HOUR_MS);
    const day = WEEKDAYS[slot.getUTCDay()]!;
    const hour = slot.getUTCHours();
    const open = windows.some((w) => w.days.includes(day) && hour >= w.startHour && hour < w.endHour);
    if (open) return hours === 0 ? undefined : slot;
  }
  return undefined;
}

/** `mon,tue 09-17` for each window, as the CLI takes and shows them. */
export function formatChangeWindow(window: ChangeWindow): string {
  const pad = (hour: number) => String(hour).padStart(2, '0');
  return `${window.days.join(',')} ${pad(window.startHour)}-${pad(window.endHour)}`;
}
