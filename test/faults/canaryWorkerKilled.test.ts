import { randomUUID } from 'node:crypto';
import { startRollout } from '../../rolloutClient';
import { recordedTraffic, startFleetHolding } from '../support/canaryFleet';
import { stackClients, uniqueTenant } from '../support/env';
import type { FleetMember } from '../support/fleet';
import { isRunning, kill, spawnWorker } from '../support/processes';
import { startTestServer, type TestServer } from '../support/server';
import { until } from '../support/until';

/**
 * The worker SIGKILLed mid-gate: after the canary's window opened (its first snapshot is in history),
 * while the wave bakes. A worker started afterwards replays the gate from history, takes the second
 * snapshot against the first, and still catches the regression: rolled back, every instance and live
 * on the previous version, the candidate written once.
 */
const KEY = 'tenant_config_canaryKilled';
const clients = stackClients();
let server: TestServer;
const started: FleetMember[] = [];

beforeAll(async () => {
  server = await startTestServer({ rollouts: true, worker: false });
}, 120_000);

afterAll(async () => {
  await Promise.all(started.map((member) => member.client.stop()));
  await server?.stop();
});

test('a worker killed while a canary bakes is replaced; the gate, replayed from history, still rolls the regression back', async () => {
  const tenantId = uniqueTenant('killed');
  const world = await startFleetHolding({
    server,
    clients,
    key: KEY,
    tenants: [tenantId],
    tenancy: 'silo',
    size: 4,
  });
  started.push(...world.fleet);
  const stop = recordedTraffic(world.fleet, tenantId, KEY, (version) => (version === 2 ? 0.25 : 0.01));
  const queue = `rollouts-${randomUUID()}`;
  let worker = spawnWorker(queue);
  try {
    const handle = await startRollout(
      server.temporal!,
      {
        tenantId,
        key: KEY,
        change: { kind: 'set', value: '{"v":2}' },
        targetServices: [world.service],
        plan: {
          strategy: { kind: 'explicit', waves: [2, '100%'] },
          bakeSeconds: 4,
          approval: 'none',
          maxFailures: 0,
          canary: { minSamples: 100 },
        },
        actor: 'release-manager@killed',
      },
      queue,
    );
    // The bake's timer starts only once the window's first snapshot (both groups) has completed.
    await until(
      'the canary window opened and the bake began',
      async () =>
        ((await handle.fetchHistory()).events ?? []).some((event) => event.timerStartedEventAttributes)
          ? true
          : undefined,
      60,
    );
    const killed = worker.pid!;
    await kill(worker);
    expect(isRunning(killed)).toBe(false);

    worker = spawnWorker(queue);
    const result = await handle.result();
    expect(result).toMatchObject({ state: 'ROLLED_BACK', liveVersion: 1, revertedInstances: 2 });
    expect(result.reason).toMatch(/^canary analysis at wave 1: regressed: candidate v2 error ratio /);
  } finally {
    stop();
    await kill(worker);
  }
  expect(await world.held()).toEqual([1, 1, 1, 1]);
  expect(await server.store.getLive({ tenantId, key: KEY })).toMatchObject({ version: 1 });
  expect((await server.store.history({ tenantId, key: KEY })).map((entry) => entry.version)).toEqual([2, 1]);
}, 120_000);
