import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/**
 * Answers `GET /metrics` from `registry` in Prometheus's text format; answers false (nothing sent) for
 * any other request, so a process can serve it beside its own routes (the worker's /healthz).
 */
export function answerMetrics(
  registry: Registry,
  request: IncomingMessage,
  response: ServerResponse,
): boolean {
  if (request.method !== 'GET' || request.url?.split('?')[0] !== '/metrics') return false;
  registry.metrics().then(
    (text) => response.writeHead(200, { 'content-type': registry.contentType }).end(text),
    () => response.writeHead(500).end(),
  );
  return true;
}

/**
 * A listener that serves only /metrics: kept off the public API port, so a tenant who can reach the API
 * cannot read the platform's counters (docs/threat-model.md).
 */
export async function startMetricsServer(
  registry: Registry,
  address: { readonly host: string; readonly port: number },
): Promise<Server & { readonly port: number }> {
  const server = createServer((request, response) => {
    if (!answerMetrics(registry, request, response)) response.writeHead(404).end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, resolve);
  });
  return Object.assign(server, { port: (server.address() as AddressInfo).port });
}
