import { type Command, InvalidArgumentError } from 'commander';
import {
  type ChangeWindow,
  changeWindowProblems,
  type Freeze,
  formatChangeWindow,
  type StoredChangeWindows,
  WEEKDAYS,
  type Weekday,
} from '../../common/freezes';
import { apiClientFor, globalOptionsOf } from '../globalOptions';
import { printResult } from '../output';
import { UsageError } from '../usageError';

type FreezeAnswer = ({ frozen: true } & Freeze) | { frozen: false; scope?: string };

interface ScopeOptions {
  readonly platform?: boolean;
}

/**
 * `cfgctl freeze set|clear|show [--platform]`: the tenant's freeze (release managers), or the platform's
 * (platform administrators). `cfgctl windows set|get|clear`: the tenant's UTC change windows.
 */
export function addFreezeCommands(program: Command): void {
  const freeze = program
    .command('freeze')
    .description(
      "refuse new rollouts and hold running ones at their next wave (the tenant's, or --platform)",
    );
  const scoped = (command: Command) =>
    command.option('--platform', "the whole platform's freeze (platform administrators)", false);
  const pathOf = (options: ScopeOptions) => (options.platform ? '/v1/platform/freeze' : '/v1/freeze');

  scoped(freeze.command('set').description('freeze, saying why'))
    .requiredOption('--reason <text>', 'why (shown to whoever is refused or held)')
    .action(async (options: ScopeOptions & { reason: string }, command: Command) => {
      const global = globalOptionsOf(command);
      const answer = await apiClientFor(global).put<FreezeAnswer>(pathOf(options), {
        reason: options.reason,
      });
      printResult(global.json, answer, () => formatFreeze(answer));
    });

  scoped(freeze.command('clear').description('lift the freeze: held rollouts resume')).action(
    async (options: ScopeOptions, command: Command) => {
      const global = globalOptionsOf(command);
      await apiClientFor(global).delete(pathOf(options));
      const answer = { frozen: false, scope: options.platform ? 'platform' : 'tenant' };
      printResult(global.json, answer, () => `freeze lifted (${answer.scope}): held rollouts resume`);
    },
  );

  scoped(freeze.command('show').description('whether frozen, by whom, since when and why')).action(
    async (options: ScopeOptions, command: Command) => {
      const global = globalOptionsOf(command);
      const answer = await apiClientFor(global).get<FreezeAnswer>(pathOf(options));
      printResult(global.json, answer, () => formatFreeze(answer));
    },
  );

  const windows = program
    .command('windows')
    .description("the tenant's change windows (UTC): outside them, waves wait for the next one");
  windows
    .command('set')
    .description('replace the windows')
    .requiredOption(
      '--window <spec...>',
      'days and UTC hours, e.g. "mon-fri 09-17" or "sat,sun 10-12" (repeatable)',
      (text: string, previous: ChangeWindow[] = []) => [...previous, changeWindow(text)],
    )
    .action(async (options: { window: ChangeWindow[] }, command: Command) => {
      const global = globalOptionsOf(command);
      const [problem] = changeWindowProblems(options.window);
      if (problem) throw new UsageError(`--window: ${problem}`);
      const stored = await apiClientFor(global).put<StoredChangeWindows>('/v1/change-windows', {
        windows: options.window,
      });
      printResult(global.json, stored, () => formatWindows(stored));
    });
  windows
    .command('get')
    .description('the windows, with who set them')
    .action(async (_options: object, command: Command) => {
      const global = globalOptionsOf(command);
      const stored = await apiClientFor(global).get<StoredChangeWindows>('/v1/change-windows');
      printResult(global.json, stored, () => formatWindows(stored));
    });
  windows
    .command('clear')
    .description('remove the windows: rollouts may run at any time')
    .action(async (_options: object, command: Command) => {
      const global = globalOptionsOf(command);
      await apiClientFor(global).delete('/v1/change-windows');
      printResult(
        global.json,
        { cleared: true },
        () => 'change windows removed: rollouts may run at any time',
      );
    });
}

/** `mon-fri 09-17` or `sat,sun 10-12`: days (a list or a range) and UTC hours, end excluded. */
export function changeWindow(text: string): ChangeWindow {
  const match = /^([a-z,-]+)\s+(\d{1,2})-(\d{1,2})$/.exec(text.trim().toLowerCase());
  if (!match) throw new InvalidArgumentError('expected days and hours, e.g. "mon-fri 09-17"');
  const days = match[1]!.split(',').flatMap((part): Weekday[] => {
    const [from, to] = part.split('-') as [string, string | undefined];
    const start = WEEKDAYS.indexOf(from as Weekday);
    const end = to === undefined ? start : WEEKDAYS.indexOf(to as Weekday);
    if (start < 0 || end < start)
      throw new InvalidArgumentError(`"${part}": days are ${WEEKDAYS.join(', ')}`);
    return WEEKDAYS.slice(start, end + 1);
  });
  return { days, startHour: Number(match[2]), endHour: Number(match[3]) };
}

function formatFreeze(answer: FreezeAnswer): string {
  if (!answer.frozen) return `not frozen${answer.scope ? ` (${answer.scope})` : ''}`;
  return `frozen (${answer.scope}) by ${answer.frozenBy} at ${answer.frozenAt}: ${answer.reason}`;
}

function formatWindows(stored: StoredChangeWindows): string {
  return [
    ...stored.windows.map((window) => `${formatChangeWindow(window)} UTC`),
    `set by ${stored.updatedBy} at ${stored.updatedAt}`,
  ].join('\n');
}
