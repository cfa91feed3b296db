import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { RequestHandler } from 'express';

const tracer = trace.getTracer('config-platform/http-server');

/**
 * A server span per request, named by its route's template (`POST /v1/rollouts`), never by its path,
 * which holds keys (and would make a span name per key). Mounted first, so the handler and everything
 * it calls (the Temporal client's start) run inside it. A caller's `traceparent` makes it the child of
 * the caller's span when valid (W3C Trace Context: a malformed one is ignored); it changes nothing else.
 */
export function httpServerSpans(): RequestHandler {
  return (request, response, next) => {
    const parent = propagation.extract(context.active(), request.headers);
    const span = tracer.startSpan(
      request.method,
      { kind: SpanKind.SERVER, attributes: { 'http.request.method': request.method } },
      parent,
    );
    response.once('finish', () => {
      // Known only once routing matched; a request no route took is named by its method alone.
      const route = request.route as { path?: unknown } | undefined;
      if (typeof route?.path === 'string') {
        const template = `${request.baseUrl}${route.path}`;
        span.updateName(`${request.method} ${template}`);
        span.setAttribute('http.route', template);
      }
      span.setAttribute('http.response.status_code', response.statusCode);
      if (response.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    });
    response.once('close', () => {
      if (!response.writableFinished) span.end();
    });
    context.with(trace.setSpan(parent, span), next);
  };
}
