import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { answerMetrics } from '../common/metricsEndpoint';
import type { RolloutWorker } from './rolloutWorker';

/**
 * The worker's `GET /healthz`, for container health checks and the stack script: 200 only while the
 * worker polls and Temporal answers; 503 with the reason otherwise. A worker whose Temporal is down
 * runs nothing, so reporting it healthy would keep a broken deployment looking fine. With a registry,
 * `GET /metrics` too: this port is the worker's own, never a tenant's.
 */
export async function startWorkerHealth(
  rolloutWorker: Pick<RolloutWorker, 'worker' | 'temporalReachable'>,
  address: { readonly host: string; readonly port: number },
  metrics?: Registry,
): Promise<Server & { readonly port: number }> {
  const server = createServer((request, response) => {
    if (metrics && answerMetrics(metrics, request, response)) return;
    if (request.url !== '/healthz') {
      response.writeHead(404).end();
      return;
    }
    void (async () => {
      const reason =
        rolloutWorker.worker.getState() !== 'RUNNING'
          ? `the worker is ${rolloutWorker.worker.getState()}`
          : (await rolloutWorker.temporalReachable())
            ? undefined
            : 'Temporal does not answer';
      response
        .writeHead(reason ? 503 : 200, { 'content-type': 'application/json' })
        .end(JSON.stringify(reason ? { status: 'unhealthy', reason } : { status: 'ok' }));
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, resolve);
  });
  return Object.assign(server, { port: (server.address() as AddressInfo).port });
}
