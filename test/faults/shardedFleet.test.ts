import { randomUUID } from 'node:crypto';
import { startRollout } from '../../rolloutClient';
import { stackClients, uniqueTenant } from '../support/env';
import type { FleetMember } from '../support/fleet';
import { isRunning, kill, spawnWorker } from '../support/processes';
import { heldPushRollout, startGatedPair } from '../support/pushGate';
import { startTestServer, type TestServer } from '../support/server';

/**
 * Two workers on one task queue, the worker running a shard of a wave SIGKILLed while its push is in
 * flight: Temporal retries that shard once its heartbeat times out (30 s, workflows/rolloutWorkflow.ts)
 * on the other worker, still running; the instance already holding the version answers the repeat as a
 * duplicate, and the rollout finishes with every instance on the version, applied once.
 */
const KEY = 'tenant_config_featureFlags';
const clients = stackClients();
const instances: FleetMember[] = [];
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ rollouts: true, worker: false });
}, 120_000);

afterAll(async () => {
  await Promise.all(instances.map((instance) => instance.client.stop()));
  await server.stop();
});

test('a worker killed mid-shard: its shard is retried on the other worker; each instance applied the change once', async () => {
  const tenantId = uniqueTenant('midshard');
  const service = `midshard-${randomUUID().slice(0, 6)}`;
  await server.store.put({ tenantId, key: KEY }, '{"v":1}', { expectedVersion: 0, makeLive: true });
  const { gate, slow, other } = await startGatedPair({ server, clients, tenantId, service, key: KEY });
  instances.push(slow, other);
  const applied = new Map<string, number[]>();
  for (const [name, member] of [
    ['slow', slow],
    ['other', other],
  ] as const) {
    member.client.onChange(KEY, (change) => {
      if (change.tenantId === tenantId && change.current)
        applied.set(name, [...(applied.get(name) ?? []), change.current.version]);
    });
  }

  const queue = `rollouts-${randomUUID()}`;
  const workers = [spawnWorker(queue), spawnWorker(queue)];
  try {
    gate.hold();
    const handle = await startRollout(server.temporal!, heldPushRollout(tenantId, service, KEY), queue);
    await gate.arrived;
    // The shard's worker, as Temporal names it (`pid@host`): the one to kill.
    const { raw } = await handle.describe();
    const shard = raw.pendingActivities?.find(
      (activity) => activity.activityType?.name === 'pushToInstances',
    );
    const pid = Number(shard?.lastWorkerIdentity?.split('@')[0]);
    const victim = workers.find((worker) => worker.pid === pid);
    const survivor = workers.find((worker) => worker.pid !== pid)!;
    expect(victim).toBeDefined();
    await kill(victim!);
    expect(isRunning(pid)).toBe(false);
    gate.release();

    expect(await handle.result()).toMatchObject({
      state: 'SUCCEEDED',
      candidateVersion: 2,
      updatedInstances: 2,
      failedInstances: 0,
    });
    // The shard's last attempt ran on the worker that was not killed.
    const started = (await handle.fetchHistory()).events?.filter(
      (event) => event.activityTaskStartedEventAttributes?.attempt === 2,
    );
    expect(
      started?.map((event) => event.activityTaskStartedEventAttributes?.identity?.split('@')[0]),
    ).toEqual([String(survivor.pid)]);
    expect(isRunning(survivor.pid!)).toBe(true);
  } finally {
    await Promise.all(workers.map((worker) => kill(worker)));
  }
  for (const member of [slow, other]) expect((await member.client.get(tenantId, KEY))?.version).toBe(2);
  expect(Object.fromEntries(applied)).toEqual({ slow: [2], other: [2] });
  expect((await server.store.history({ tenantId, key: KEY })).map((entry) => entry.version)).toEqual([2, 1]);
}, 120_000);
