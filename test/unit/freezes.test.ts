import { changeWindow } from '../../cli/commands/freeze';
import {
  changeWindowProblems,
  freezeReasonProblem,
  MAX_CHANGE_WINDOWS,
  nextWindowOpening,
} from '../../common/freezes';

/** Change windows and freeze reasons: the arithmetic and checks the workflow and the API share. */
const weekdays = { days: ['mon', 'tue', 'wed', 'thu', 'fri'] as const, startHour: 9, endHour: 17 };

test('inside a window nothing waits; outside, the next opening is the next hour a window covers (UTC)', () => {
  // 2026-12-01 is a Tuesday.
  expect(nextWindowOpening([weekdays], new Date('2026-12-01T12:30:00Z'))).toBeUndefined();
  expect(nextWindowOpening([weekdays], new Date('2026-12-01T17:00:00Z'))).toEqual(
    new Date('2026-12-02T09:00:00Z'),
  );
  expect(nextWindowOpening([weekdays], new Date('2026-12-01T08:59:59Z'))).toEqual(
    new Date('2026-12-01T09:00:00Z'),
  );
  // Friday evening: Monday morning.
  expect(nextWindowOpening([weekdays], new Date('2026-12-04T18:00:00Z'))).toEqual(
    new Date('2026-12-07T09:00:00Z'),
  );
  // A window ending at midnight covers the day's last hour.
  expect(
    nextWindowOpening([{ days: ['tue'], startHour: 23, endHour: 24 }], new Date('2026-12-01T23:59:00Z')),
  ).toBeUndefined();
  expect(nextWindowOpening(undefined, new Date())).toBeUndefined();
  expect(nextWindowOpening([], new Date())).toBeUndefined();
});

test('every problem with windows names its field', () => {
  expect(changeWindowProblems([weekdays])).toEqual([]);
  expect(changeWindowProblems([])).toEqual(['windows: give at least one window (or clear them)']);
  expect(changeWindowProblems(Array(MAX_CHANGE_WINDOWS + 1).fill(weekdays))).toEqual([
    `windows: at most ${MAX_CHANGE_WINDOWS}`,
  ]);
  expect(
    changeWindowProblems([
      weekdays,
      { days: ['mon', 'noday'], startHour: 24, endHour: 0 },
      { days: ['sun'], startHour: 10, endHour: 9 },
    ]),
  ).toEqual([
    'windows[1].days[1]: one of sun, mon, tue, wed, thu, fri, sat',
    'windows[1].startHour: an integer from 0 to 23',
    'windows[1].endHour: an integer from 1 to 24',
    'windows[2].endHour: after startHour (a window ends on the day it starts)',
  ]);
});

test('a freeze needs a reason: present, one line, bounded', () => {
  expect(freezeReasonProblem('INC-1: payments')).toBeUndefined();
  expect(freezeReasonProblem(undefined)).toBe('reason: say why (required)');
  expect(freezeReasonProblem('  ')).toBe('reason: say why (required)');
  expect(freezeReasonProblem('x'.repeat(501))).toBe('reason: at most 500 characters');
  expect(freezeReasonProblem('two\nlines')).toBe('reason: one line of text, no control characters');
});

test('cfgctl windows set takes days as lists and ranges, and hours', () => {
  expect(changeWindow('mon-fri 09-17')).toEqual(weekdays);
  expect(changeWindow('sat,sun 10-12')).toEqual({ days: ['sat', 'sun'], startHour: 10, endHour: 12 });
  expect(changeWindow('Mon,wed-thu 0-24')).toEqual({
    days: ['mon', 'wed', 'thu'],
    startHour: 0,
    endHour: 24,
  });
  expect(() => changeWindow('fri-mon 09-17')).toThrow(/days are/);
  expect(() => changeWindow('weekdays')).toThrow(/expected days and hours/);
});
