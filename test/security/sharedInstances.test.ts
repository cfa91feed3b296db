import { setTimeout as sleep } from 'node:timers/promises';
import { randomUUID } from 'node:crypto';
import { destroyAwsClients, type AwsClients } from '../../activities/awsClients';
import type { RolloutPlan, RolloutRequest } from '../../common/rollout';
import type { ConfigClient } from '../../sdk';
import { startRollout } from '../../rolloutClient';
import { progressQuery } from '../../workflows/definitions';
import { stackClients, uniqueTenant } from '../support/env';
import { type FleetMember, startInstance } from '../support/fleet';
import { startTestServer, type TestServer } from '../support/server';

/**
 * Tenants share pooled instances. Tried on the real stack: one tenant's broken candidate, baking on a
 * pooled instance, made it NOT_SERVING, and every other tenant's rollout to that service failed its
 * health gate and rolled back. A gate now counts only what its own change caused.
 */
const KEY = 'tenant_config_featureFlags';
const BROKEN = '{"broken":true}';

let server: TestServer;
let clients: AwsClients;
const instances: FleetMember[] = [];

beforeAll(async () => {
  server = await startTestServer({ rollouts: true });
  clients = stackClients();
}, 120_000);

afterAll(async () => {
  await Promise.all(instances.map((instance) => instance.client.stop()));
  destroyAwsClients(clients);
  await server.stop();
});

const plan = (bakeSeconds: number): RolloutPlan => ({
  strategy: { kind: 'explicit', waves: ['100%'] },
  bakeSeconds,
  approval: 'none',
  maxFailures: 0,
  push: { timeoutMs: 1000, attempts: 2, concurrency: 8 },
});

test('tenant A’s broken candidate baking on a pooled instance does not fail tenant B’s rollout, and still fails A’s own', async () => {
  const [a, b] = [uniqueTenant('a'), uniqueTenant('b')];
  const service = `shared-${randomUUID().slice(0, 6)}`;
  for (const tenantId of [a, b]) {
    await server.store.put({ tenantId, key: KEY }, '{"beta":false}', { expectedVersion: 0, makeLive: true });
  }
  // The app on the pooled instance cannot tell tenants apart in its health: a broken value of any
  // tenant's flags makes the whole instance NOT_SERVING (as examples/orders-service does).
  const pooled: { client?: ConfigClient } = {};
  const poolHealth = async () => (await pooled.client?.get(a, KEY))?.value !== BROKEN;
  const start = async (tenancy: string, preload: string[], health?: () => Promise<boolean>) => {
    const member = await startInstance({
      server,
      clients,
      service,
      tenancy,
      preload: preload.map((tenantId) => ({ tenantId, key: KEY })),
      ...(health ? { health } : {}),
    });
    instances.push(member);
    return member;
  };
  await start(a, [a]);
  await start(b, [b]);
  const pool = await start('pool', [a, b], poolHealth);
  pooled.client = pool.client;

  const request = (tenantId: string, value: string, bakeSeconds: number): RolloutRequest => ({
    tenantId,
    key: KEY,
    change: { kind: 'set', value },
    targetServices: [service],
    plan: plan(bakeSeconds),
    actor: `release-manager@${tenantId}`,
  });
  const rolloutA = await startRollout(server.temporal!, request(a, BROKEN, 15), server.taskQueue);
  for (let i = 0; i < 300 && (await rolloutA.query(progressQuery)).state !== 'BAKING'; i += 1) {
    await sleep(100);
  }
  expect((await rolloutA.query(progressQuery)).state).toBe('BAKING');
  expect(await poolHealth()).toBe(false);

  const rolloutB = await startRollout(server.temporal!, request(b, '{"beta":true}', 0), server.taskQueue);
  const resultB = await rolloutB.result();
  expect(resultB).toMatchObject({ state: 'SUCCEEDED', updatedInstances: 2, failedInstances: 0 });
  expect((await pool.client.get(b, KEY))?.value).toBe('{"beta":true}');
  // B ended while A was still baking: the excuse came from A's change, not from a recovered instance.
  expect((await rolloutA.query(progressQuery)).state).toBe('BAKING');

  // A's own gate: the pooled instance was SERVING before A's candidate reached it, so A is at fault.
  const resultA = await rolloutA.result();
  expect(resultA.state).toBe('ROLLED_BACK');
  expect(resultA.reason).toMatch(/health check/);
  expect((await rolloutA.query(progressQuery)).failedInstances).toEqual([
    { instanceId: `${service}/${pool.client.instanceId}`, reason: 'reports NOT_SERVING' },
  ]);
  expect((await pool.client.get(a, KEY))?.value).toBe('{"beta":false}');
}, 90_000);
