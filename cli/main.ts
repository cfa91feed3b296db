import { CommanderError } from 'commander';
import { ApiError } from './apiClient';
import type { CommandOutcome } from './commandOutcome';
import { EXIT, exitCodeForHttpStatus } from './exitCodes';
import { buildProgram } from './program';
import { UsageError } from './usageError';
import { errorMessage } from '../common/errors';

/** Runs one command line and answers its exit code (cli/exitCodes.ts); bin/cfgctl.js exits with it. */
export async function run(argv: string[]): Promise<number> {
  const outcome: CommandOutcome = { exitCode: EXIT.ok };
  try {
    await buildProgram(outcome).parseAsync(argv);
    return outcome.exitCode;
  } catch (error) {
    return reportError(error);
  }
}

/** One line on stderr naming the problem, and the exit code a script can act on. */
function reportError(error: unknown): number {
  // Commander has already printed its own message (and the usage); --help and --version end here too.
  if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  if (error instanceof ApiError) {
    process.stderr.write(
      `error: ${error.code}: ${error.message}${error.field ? ` (field: ${error.field})` : ''}\n`,
    );
    return exitCodeForHttpStatus(error.status);
  }
  if (error instanceof UsageError) {
    process.stderr.write(`error: ${error.message}\n`);
    return EXIT.usage;
  }
  process.stderr.write(`error: ${errorMessage(error)}\n`);
  return EXIT.failure;
}

if (require.main === module) {
  void run(process.argv).then((code) => process.exit(code));
}
