import { randomUUID } from 'node:crypto';
import { startRollout } from '../../rolloutClient';
import { stackClients, uniqueTenant } from '../support/env';
import type { FleetMember } from '../support/fleet';
import { isRunning, kill, spawnWorker } from '../support/processes';
import { heldPushRollout, startGatedPair } from '../support/pushGate';
import { startTestServer, type TestServer } from '../support/server';

/**
 * The worker SIGKILLed while a push is in flight: the instance has the call, the worker dies before the
 * answer. Temporal retries the push activity once its heartbeat times out (30 s, workflows/rolloutWorkflow.ts)
 * on the restarted worker; the instance, already holding the version, answers the repeat as a duplicate,
 * and the rollout finishes with the version written once and every instance on it.
 */
const KEY = 'tenant_config_featureFlags';
const clients = stackClients();
const instances: FleetMember[] = [];
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ rollouts: true });
}, 120_000);

afterAll(async () => {
  await Promise.all(instances.map((instance) => instance.client.stop()));
  await server.stop();
});

test('a worker killed mid-push and restarted finishes the rollout; each instance applied it once', async () => {
  const tenantId = uniqueTenant('midpush');
  const service = `midpush-${randomUUID().slice(0, 6)}`;
  await server.store.put({ tenantId, key: KEY }, '{"v":1}', { expectedVersion: 0, makeLive: true });
  const { gate, slow, other } = await startGatedPair({ server, clients, tenantId, service, key: KEY });
  instances.push(slow, other);
  const applied: number[] = [];
  slow.client.onChange(KEY, (change) => {
    if (change.tenantId === tenantId && change.current) applied.push(change.current.version);
  });

  const queue = `rollouts-${randomUUID()}`;
  let worker = spawnWorker(queue);
  try {
    gate.hold();
    const handle = await startRollout(server.temporal!, heldPushRollout(tenantId, service, KEY), queue);
    await gate.arrived;
    const killed = worker.pid!;
    await kill(worker);
    expect(isRunning(killed)).toBe(false);
    gate.release();

    worker = spawnWorker(queue);
    expect(await handle.result()).toMatchObject({
      state: 'SUCCEEDED',
      candidateVersion: 2,
      updatedInstances: 2,
      failedInstances: 0,
    });
  } finally {
    await kill(worker);
  }
  for (const member of [slow, other]) expect((await member.client.get(tenantId, KEY))?.version).toBe(2);
  expect(applied).toEqual([2]);
  expect((await server.store.history({ tenantId, key: KEY })).map((entry) => entry.version)).toEqual([2, 1]);
}, 120_000);
