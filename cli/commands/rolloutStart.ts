import { type Command, Option } from 'commander';
import type { RolloutStarted } from '../apiTypes';
import type { CommandOutcome } from '../commandOutcome';
import { apiClientFor, globalOptionsOf } from '../globalOptions';
import {
  configKey,
  exponentialGrowth,
  failureBudget,
  integerFrom,
  linearStep,
  positiveInteger,
  serviceName,
  serviceNames,
  waveList,
} from '../optionParsers';
import { printResult } from '../output';
import { progressDisplayFor } from '../render/liveProgress';
import { MAX_BAKE_SECONDS, MAX_PAUSE_SECONDS_LIMIT } from '../../common/rollout';
import { type StartOptions, startRolloutBody } from '../startRequest';
import { watchRollout } from '../watch';

/** `cfgctl rollout start`: POST /v1/rollouts; prints the rollout id, and with --watch follows it. */
export function addRolloutStartCommand(rollout: Command, outcome: CommandOutcome): void {
  rollout
    .command('start')
    .description('start a staged rollout of one key: a new value, a version already written, or its removal')
    .argument('<key>', 'the config key', configKey)
    .option('--value <value>', 'the new value')
    .option('--value-file <path>', 'read the new value from a file (one final line break is dropped)')
    .option('--version <n>', 'roll out this existing version instead of a new value', positiveInteger)
    .option('--remove', "roll out the key's removal: instances forget it, then it is deleted")
    .option('--service <name>', 'the consuming service (required for param_config_ keys)', serviceName)
    .option(
      '--target <service>',
      'a service whose instances get the push; repeat for several (default: --service)',
      serviceNames,
    )
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
    .option('--max-failures <n|n%>', 'failed instances tolerated before rolling back', failureBudget)
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
    .option('--watch', 'follow it until it is over, like "rollout status --watch"', false)
    .action(async (key: string, options: StartOptions & { watch: boolean }, command: Command) => {
      const global = globalOptionsOf(command);
      const client = apiClientFor(global);
      const started = await client.post<RolloutStarted>('/v1/rollouts', startRolloutBody(key, options));
      if (options.watch && global.json) {
        // One line, so that the whole output of the watch is newline-delimited JSON.
        process.stdout.write(`${JSON.stringify(started)}\n`);
      } else {
        // The id alone, so that ID=$(cfgctl rollout start …) works.
        printResult(global.json, started, () => started.rolloutId);
      }
      if (options.watch) {
        outcome.exitCode = await watchRollout(
          client,
          started.rolloutId,
          progressDisplayFor(process.stdout, global.json),
        );
      }
    });
}
