/**
 * A failure the developer can act on. Its message says what went wrong and what to do, so the CLI
 * prints the message alone, without a stack trace.
 */
export class StackError extends Error {
  override name = 'StackError';
}
