import { Command, Option } from 'commander';
import { DEFAULT_PORTS } from '../common/constants';
import type { CommandOutcome } from './commandOutcome';
import { addConfigCommands } from './commands/config';
import { addDevTokenCommand } from './commands/devToken';
import { addFreezeCommands } from './commands/freeze';
import { addPlanCommands } from './commands/plan';
import { addRolloutCommands } from './commands/rollout';
import { addSchemaCommands } from './commands/schema';

/** The whole command tree with its global options; each command group lives in cli/commands/. */
export function buildProgram(outcome: CommandOutcome): Command {
  const program = new Command('cfgctl')
    .description('Multi-tenant configuration and staged rollouts')
    .addOption(
      new Option('--api-url <url>', 'REST API base URL')
        .env('CFG_API_URL')
        .default(`http://127.0.0.1:${DEFAULT_PORTS.http}`),
    )
    .addOption(
      new Option('--token-file <path>', 'read the bearer token from a file (else $CFG_TOKEN)').env(
        'CFG_TOKEN_FILE',
      ),
    )
    .option('--json', 'machine-readable output (with --watch: one JSON object per line)', false)
    // Errors are reported once, with their exit code, by cli/main.ts.
    .exitOverride()
    .showHelpAfterError();

  addDevTokenCommand(program);
  addConfigCommands(program);
  addSchemaCommands(program);
  addRolloutCommands(program, outcome);
  addPlanCommands(program);
  addFreezeCommands(program);
  return program;
}
