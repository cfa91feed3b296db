import type { NextFunction, Request, Response } from 'express';
import type { Authenticate } from '../http/authenticate';
import { backendLabel, type ServerMetrics } from './serverMetrics';

/** The config reads of the REST API, by route template, named as the gRPC methods that do the same. */
const READ_ROUTES: Readonly<Record<string, string>> = {
  '/v1/configs/:key': 'GetConfig',
  '/v1/configs': 'ListConfigs',
};

/** Where a request was routed, noted while express still knows it (an error handler runs after it forgot). */
interface Routed {
  readonly route: string;
  readonly key?: string;
}

const routed = new WeakMap<Request, Routed>();

function routedOf(request: Request): Routed | undefined {
  if (!request.route) return routed.get(request);
  const key: unknown = request.params.key;
  return {
    route: `${request.baseUrl}${String((request.route as { path: unknown }).path)}`,
    ...(typeof key === 'string' ? { key } : {}),
  };
}

/**
 * Counts and times every REST request by its route TEMPLATE (`/v1/configs/:key`), never its path: keys
 * and rollout ids are in paths, and a label per path would let any caller grow the series without bound.
 */
export function httpMetrics(metrics: ServerMetrics, backendOf: (key: unknown) => string | undefined) {
  return (request: Request, response: Response, next: NextFunction): void => {
    const started = performance.now();
    response.once('finish', () => {
      const seconds = (performance.now() - started) / 1000;
      const at = routed.get(request) ?? routedOf(request);
      const route = at?.route ?? 'unmatched';
      metrics.httpRequest(request.method, route, response.statusCode, seconds);
      const readMethod = request.method === 'GET' ? READ_ROUTES[route] : undefined;
      if (readMethod) {
        const backend = backendLabel(readMethod === 'GetConfig' ? backendOf(at?.key) : undefined);
        metrics.read('http', readMethod, String(response.statusCode), backend, seconds);
      }
    });
    next();
  };
}

/**
 * Every /v1 handler authenticates first: the moment to note its route, while express still holds it.
 * A handler that fails later reaches the error handler with the route already forgotten.
 */
export function notingRoute(authenticate: Authenticate): Authenticate {
  return (request, action) => {
    const at = routedOf(request);
    if (at) routed.set(request, at);
    return authenticate(request, action);
  };
}
