import type { Command } from 'commander';
import type { RolloutStarted } from '../../common/api/rollouts';
import type { CommandOutcome } from '../commandOutcome';
import { apiClientFor, globalOptionsOf } from '../globalOptions';
import { configKey, positiveInteger, serviceName, serviceNames } from '../optionParsers';
import { withPlanOptions } from '../planOptions';
import { printResult } from '../output';
import { progressDisplayFor } from '../render/liveProgress';
import { type StartOptions, startRolloutBody } from '../startRequest';
import { watchRollout } from '../watch';

/** `cfgctl rollout start`: POST /v1/rollouts; prints the rollout id, and with --watch follows it. */
export function addRolloutStartCommand(rollout: Command, outcome: CommandOutcome): void {
  const start = rollout
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
    );
  withPlanOptions(start)
    .option(
      '--allow-shape-change',
      "confirm a value whose size or top-level shape moves past the plan's shape guard",
    )
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
