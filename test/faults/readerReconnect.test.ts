import { ConfigReaderClient } from '../../sdk/configReaderClient';
import { uniqueTenant } from '../support/env';
import { closedPort } from '../support/ports';
import { startTestServer, type TestServer } from '../support/server';
import { validToken } from '../support/tokens';

/**
 * A config service restarts under its readers. Tried by hand on main: gRPC clients kept failing 18 s
 * after the service was back, waiting out grpc-js's default reconnection backoff (up to 120 s). The SDK's
 * reader must be back at the first read after the server's return, within that read's deadline.
 */
const KEY = 'tenant_config_featureFlags';
const OUTAGE_MS = 16_000;
const READ_DEADLINE_MS = 3_000;

let server: TestServer | undefined;

afterAll(async () => {
  await server?.stop();
});

test('after an outage of 16 s, the first read after the config service is back succeeds within its 3 s deadline', async () => {
  const tenant = uniqueTenant('reconnect');
  const port = await closedPort();
  const start = () => startTestServer({ env: { GRPC_PORT: String(port) } });
  server = await start();
  await server.store.put({ tenantId: tenant, key: KEY }, '{"v":1}', { expectedVersion: 0, makeLive: true });
  const reader = new ConfigReaderClient(
    `127.0.0.1:${port}`,
    (tenantId) => Promise.resolve(validToken({ tenantId, groups: ['services'] })),
    { deadlineMs: READ_DEADLINE_MS },
  );
  try {
    expect((await reader.getLive({ tenantId: tenant, key: KEY }))?.version).toBe(1);

    await server.stop();
    server = undefined;
    // Reads keep failing through the outage, each failure lengthening the client's reconnection backoff.
    const failures: unknown[] = [];
    const outageEnds = Date.now() + OUTAGE_MS;
    while (Date.now() < outageEnds) {
      failures.push(await reader.getLive({ tenantId: tenant, key: KEY }).catch((error: unknown) => error));
    }
    expect(failures.length).toBeGreaterThan(0);
    expect(failures.every((failure) => failure instanceof Error)).toBe(true);

    server = await start();
    expect((await reader.getLive({ tenantId: tenant, key: KEY }))?.version).toBe(1);
  } finally {
    reader.close();
  }
}, 60_000);
