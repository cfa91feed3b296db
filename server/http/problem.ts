import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import type { Problem } from '../../common/api/problems';
import { BackendUnavailableError, NotFoundError } from '../../common/errors';
import type { Logger } from '../../common/logger';
import { errorReply } from '../../common/errorStatus';

/** RFC 9457 problem details: every error the API answers has this shape and media type. */
export function sendProblem(
  response: Response,
  problem: {
    status: number;
    code: string;
    detail: string;
    field?: string;
    limit?: string;
    retryAfterSeconds?: number;
  },
): void {
  if (problem.retryAfterSeconds !== undefined) response.set('retry-after', String(problem.retryAfterSeconds));
  response
    .status(problem.status)
    .type('application/problem+json')
    .json({
      type: `urn:config-rollout:problem:${problem.code}`,
      title: problem.code,
      status: problem.status,
      detail: problem.detail,
      ...(problem.field ? { field: problem.field } : {}),
      ...(problem.limit ? { limit: problem.limit } : {}),
    } satisfies Problem);
}

/** What no route answered: a rollout route without Temporal wired, or nothing at all. */
export function unmatchedRoute(options: { rolloutsAvailable: boolean }): RequestHandler {
  return (request, _response, next) => {
    next(
      !options.rolloutsAvailable && request.path.startsWith('/v1/rollouts')
        ? new BackendUnavailableError('rollouts are not available: this server has no Temporal connection')
        : new NotFoundError(`no route for ${request.method} ${request.path}`),
    );
  };
}

/** Codes for the HTTP errors that come from express and the OpenAPI validator rather than from us. */
const CODE_BY_STATUS: Record<number, string> = {
  400: 'InvalidArgument',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  413: 'ValueTooLarge',
  415: 'UnsupportedMediaType',
};

/** `onLimit` is told the name of each limit that refuses a request (for the service's metrics). */
export function problemErrorHandler(logger: Logger, onLimit?: (limit: string) => void): ErrorRequestHandler {
  return (error: unknown, request, response, _next) => {
    const status = (error as { status?: unknown }).status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      sendProblem(response, {
        status,
        code: CODE_BY_STATUS[status] ?? 'InvalidArgument',
        detail: (error as Error).message,
        field: fieldOf(error),
      });
      return;
    }
    const reply = errorReply(error);
    if (reply.limit !== undefined) onLimit?.(reply.limit);
    if (reply.code === 'Internal')
      logger.error('API internal error', { method: request.method, path: request.path, error });
    if (response.headersSent) {
      response.end();
      return;
    }
    sendProblem(response, {
      status: reply.http,
      code: reply.code,
      detail: reply.message,
      field: reply.field,
      limit: reply.limit,
      retryAfterSeconds: reply.retryAfterSeconds,
    });
  };
}

/** The validator reports `/body/plan/bakeSeconds` or `/query/pageSize`; callers want `plan.bakeSeconds`. */
function fieldOf(error: unknown): string | undefined {
  const path = (error as { errors?: { path?: unknown }[] }).errors?.[0]?.path;
  if (typeof path !== 'string')
    return (error as { type?: unknown }).type === 'entity.parse.failed' ? 'body' : undefined;
  const field = path.replace(/^\/?(body|query|params|headers|path)\/?/, '').replaceAll('/', '.');
  return field || path.split('/').filter(Boolean)[0];
}
