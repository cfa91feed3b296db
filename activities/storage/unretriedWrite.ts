import type { FinalizeRequestMiddleware, MiddlewareStack } from '@smithy/types';

/**
 * A write that has no condition of its own (Parameter Store's PutParameter) must not be resent by the
 * AWS SDK when its answer is lost: the first request may have been applied, and a resend writes a
 * second version. Such a write fails instead with WriteOutcomeUnknownError; the caller finds out what
 * happened (by the write id it recorded) before it tries again.
 */
export class WriteOutcomeUnknownError extends Error {
  override readonly name = 'WriteOutcomeUnknown';
  constructor(readonly attemptError: unknown) {
    // No `cause`: the SDK's retry decision looks through causes and would retry a reset connection.
    super(`no answer to the write (${describe(attemptError)}); it may have been applied`);
  }
}

/** Sent once by the SDK: a failure without an answer (a reset, a timeout, a 5xx) is not retried. */
export function unretried<
  I extends object,
  O extends object,
  C extends { middlewareStack: MiddlewareStack<I, O> },
>(command: C & { middlewareStack: MiddlewareStack<I, O> }): C {
  const once: FinalizeRequestMiddleware<I, O> = (next) => async (args) => {
    try {
      return await next(args);
    } catch (error) {
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      // Refused with an answer (a 4xx): nothing was written, and the SDK may retry (throttling) as usual.
      if (status !== undefined && status < 500) throw error;
      throw new WriteOutcomeUnknownError(error);
    }
  };
  // Low priority in its step: inside the SDK's retry loop, so the loop sees the error above.
  command.middlewareStack.add(once, { step: 'finalizeRequest', priority: 'low', name: 'unretriedWrite' });
  return command;
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? `${error.name} ${code}` : error.message || error.name;
}
