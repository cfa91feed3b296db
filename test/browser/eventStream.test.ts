import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { followStream } from '../../console/src/eventStream';
import { validToken } from '../support/tokens';
import { until } from '../support/until';

/**
 * The console's reader of a rollout's event stream (fetch, since EventSource sends no Authorization),
 * against a real HTTP server speaking server-sent events: the bearer token goes in the header, a
 * shutdown's `retry:` is honoured by reconnecting, and `end` stops it for good.
 */
let server: Server;
let url: string;
const requests: IncomingHttpHeaders[] = [];
const token = validToken({ tenantId: 'acme', groups: ['operators'], subject: 'olivia' });

beforeAll(async () => {
  const storage = new Map<string, string>([['cfg-console.token', token]]);
  Object.assign(globalThis, {
    sessionStorage: {
      getItem: (key: string) => storage.get(key) ?? null,
      removeItem: (key: string) => storage.delete(key),
    },
  });
  server = createServer((request, response) => {
    requests.push(request.headers);
    response.writeHead(200, { 'content-type': 'text/event-stream' });
    if (requests.length === 1) {
      // The first connection: progress, then the server goes away telling the client when to come back.
      response.write('event: progress\ndata: {"step":1}\n\n');
      response.write('retry: 150\nevent: shutdown\ndata: {"detail":"bye"}\n\n');
      response.end();
    } else {
      // Split across writes, as a proxy may deliver it.
      response.write(': still running\n\nevent: progress\nda');
      setTimeout(() => response.end('ta: {"step":2}\n\nevent: end\ndata: {"state":"SUCCEEDED"}\n\n'), 20);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/rollouts/r1/events`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

test('a shutdown with retry: reconnects after the hint, events keep coming, and end stops the reader', async () => {
  const events: [string, unknown][] = [];
  const problems: string[] = [];
  const started = Date.now();
  followStream(url, {
    onEvent: (event, data) => events.push([event, data]),
    onProblem: (p) => problems.push(p),
  });
  await until(
    'the end event',
    () => Promise.resolve(events.some(([event]) => event === 'end') || undefined),
    5,
  );
  // The server's 150 ms, not the reader's own 2 s default.
  expect(Date.now() - started).toBeGreaterThanOrEqual(150);
  expect(Date.now() - started).toBeLessThan(1_500);
  expect(events).toEqual([
    ['progress', { step: 1 }],
    ['shutdown', { detail: 'bye' }],
    ['progress', { step: 2 }],
    ['end', { state: 'SUCCEEDED' }],
  ]);
  expect(requests.map((headers) => headers.authorization)).toEqual([`Bearer ${token}`, `Bearer ${token}`]);
  await new Promise((resolve) => setTimeout(resolve, 400));
  expect(requests).toHaveLength(2); // no reconnection after `end`
  expect(problems).toEqual([]);
});
