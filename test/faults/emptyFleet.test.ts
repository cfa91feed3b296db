import { randomUUID } from 'node:crypto';
import { uniqueTenant } from '../support/env';
import { startRollout } from '../../rolloutClient';
import { startTestServer, type TestServer } from '../support/server';

/**
 * Cloud Map that lost its registrations (tried by hand on main: after the emulator restarted, a rollout
 * said "live on 0 of 0 instances" and promoted at once, with no canary, bake or health check). On the
 * real stack, a rollout that finds no instance now rolls back and the live version stays.
 */
const KEY = 'tenant_config_featureFlags';
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ rollouts: true });
}, 120_000);

afterAll(async () => {
  await server.stop();
});

test('a rollout to a service with no registered instance rolls back, and the live version stays', async () => {
  const tenantId = uniqueTenant('empty');
  await server.store.put({ tenantId, key: KEY }, '{"v":1}', { expectedVersion: 0, makeLive: true });
  const handle = await startRollout(
    server.temporal!,
    {
      tenantId,
      key: KEY,
      change: { kind: 'set', value: '{"v":2}' },
      targetServices: [`nobody-${randomUUID().slice(0, 6)}`],
      plan: {
        strategy: { kind: 'explicit', waves: ['100%'] },
        bakeSeconds: 0,
        approval: 'none',
        maxFailures: 0,
      },
      actor: 'alice',
    },
    server.taskQueue,
  );
  const result = await handle.result();
  expect(result).toMatchObject({ state: 'ROLLED_BACK', liveVersion: 1, updatedInstances: 0 });
  expect(result.reason).toMatch(/no instance of nobody-\w+ serves the tenant/);
  expect(await server.store.getLive({ tenantId, key: KEY })).toMatchObject({ version: 1, value: '{"v":1}' });
});
