/**
 * How a command that ran without an error ended, for the exit code: a watch that saw its rollout roll
 * back did its job, yet a script must learn the outcome. Errors map to exit codes in cli/main.ts.
 */
export interface CommandOutcome {
  exitCode: number;
}
