import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import type { Logger } from '../../common/logger';
import { errorReply } from '../errorStatus';

/** RFC 9457 problem details: every error the API answers has this shape and media type. */
export function sendProblem(
  response: Response,
  problem: { status: number; code: string; detail: string; field?: string },
): void {
  response
    .status(problem.status)
    .type('application/problem+json')
    .json({
      type: `urn:config-rollout:problem:${problem.code}`,
      title: problem.code,
      status: problem.status,
      detail: problem.detail,
      ...(problem.field ? { field: problem.field } : {}),
    });
}

export const notFoundRoute: RequestHandler = (request, response) => {
  sendProblem(response, {
    status: 404,
    code: 'NotFound',
    detail: `no route for ${request.method} ${request.path}`,
  });
};

export function problemErrorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, request, response, _next) => {
    // Body-parser errors carry the HTTP status they mean (400 malformed JSON, 413 too large).
    const parserStatus = (error as { status?: unknown; type?: unknown }).status;
    if (typeof parserStatus === 'number' && parserStatus >= 400 && parserStatus < 500) {
      sendProblem(response, {
        status: parserStatus,
        code: parserStatus === 413 ? 'ValueTooLarge' : 'InvalidArgument',
        detail: `request body rejected: ${(error as Error).message}`,
        field: 'body',
      });
      return;
    }
    const reply = errorReply(error);
    if (reply.code === 'Internal')
      logger.error('API internal error', { method: request.method, path: request.path, error });
    sendProblem(response, {
      status: reply.http,
      code: reply.code,
      detail: reply.message,
      field: reply.field,
    });
  };
}
