import { Argument, type Command, Option } from 'commander';
import { rolloutPath } from '../apiPaths';
import type { Items } from '../../common/api/lists';
import type { Rollout, RolloutPage, TimelineEntry } from '../../common/api/rollouts';
import { ROLLOUT_ACTIONS, ROLLOUT_STATES, type RolloutAction } from '../../common/rollout';
import type { CommandOutcome } from '../commandOutcome';
import { apiClientFor, globalOptionsOf } from '../globalOptions';
import { configKey, integerFrom, reason, rolloutId } from '../optionParsers';
import { printResult } from '../output';
import { progressDisplayFor } from '../render/liveProgress';
import { formatRolloutList, formatRolloutStatus, formatTimeline } from '../render/rolloutViews';
import { watchRollout } from '../watch';
import { addRolloutStartCommand } from './rolloutStart';

const ACTION_HELP: Record<RolloutAction, string> = {
  approve: 'approve the wave the rollout waits on',
  pause: 'hold the rollout before its next wave',
  resume: 'continue a paused rollout',
  abort: 'stop the rollout and roll back',
};

/** `cfgctl rollout …`: start, find, follow and steer staged rollouts. */
export function addRolloutCommands(program: Command, outcome: CommandOutcome): void {
  const rollout = program
    .command('rollout')
    .description("staged rollouts of the caller's tenant's configuration");
  addRolloutStartCommand(rollout, outcome);

  rollout
    .command('list')
    .description("the tenant's rollouts, newest first")
    .option('--key <key>', 'only rollouts of this key', configKey)
    .addOption(new Option('--state <state>', 'only rollouts in this state').choices(ROLLOUT_STATES))
    .option('--page-size <n>', 'rollouts per page (default 20)', integerFrom(1, 100))
    .option('--page-token <token>', 'the page after the one that printed this token')
    .action(
      async (
        options: { key?: string; state?: string; pageSize?: number; pageToken?: string },
        command: Command,
      ) => {
        const global = globalOptionsOf(command);
        const page = await apiClientFor(global).get<RolloutPage>('/v1/rollouts', {
          key: options.key,
          state: options.state,
          pageSize: options.pageSize?.toString(),
          pageToken: options.pageToken,
        });
        printResult(global.json, page, () => formatRolloutList(page));
      },
    );

  rollout
    .command('status')
    .description("a rollout's progress; --watch follows it until it is over")
    .addArgument(rolloutIdArgument())
    .option('--watch', 'follow it live; exit 0 if it succeeds, 8 if rolled back, 9 if failed', false)
    .action(async (id: string, options: { watch: boolean }, command: Command) => {
      const global = globalOptionsOf(command);
      const client = apiClientFor(global);
      if (options.watch) {
        outcome.exitCode = await watchRollout(client, id, progressDisplayFor(process.stdout, global.json));
        return;
      }
      const progress = await client.get<Rollout>(rolloutPath(id));
      printResult(global.json, progress, () => formatRolloutStatus(progress));
    });

  for (const action of ROLLOUT_ACTIONS) {
    rollout
      .command(action)
      .description(ACTION_HELP[action])
      .addArgument(rolloutIdArgument())
      .option('--reason <text>', 'why, for the audit trail', reason)
      .action(async (id: string, options: { reason?: string }, command: Command) => {
        const global = globalOptionsOf(command);
        const progress = await apiClientFor(global).post<Rollout>(
          `${rolloutPath(id)}/${action}`,
          options.reason !== undefined ? { reason: options.reason } : {},
        );
        printResult(global.json, progress, () => `${action} accepted; rollout ${id} is ${progress.state}`);
      });
  }

  rollout
    .command('history')
    .description("a rollout's timeline: waves, health checks, who approved, paused or aborted")
    .addArgument(rolloutIdArgument())
    .action(async (id: string, _options: unknown, command: Command) => {
      const global = globalOptionsOf(command);
      const timeline = await apiClientFor(global).get<Items<TimelineEntry>>(`${rolloutPath(id)}/history`);
      printResult(global.json, timeline, () => formatTimeline(timeline.items));
    });
}

function rolloutIdArgument(): Argument {
  return new Argument('<id>', 'the rollout id that "rollout start" or "rollout list" printed').argParser(
    rolloutId,
  );
}
