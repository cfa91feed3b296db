import { randomUUID } from 'node:crypto';
import type { RolloutPlan, RolloutRequest } from '../../common/rollout';
import { startRollout } from '../../rolloutClient';
import { progressQuery } from '../../workflows/definitions';
import { uniqueTenant } from '../support/env';
import { type FaultRig, startFaultRig } from '../support/faultRig';
import { type FleetMember, startInstance } from '../support/fleet';

/**
 * Slow and broken peers on real sockets: instances registered in Cloud Map at a Toxiproxy port in front
 * of the real SDK instance, so the worker's pushes cross a link the test slows, resets or throttles.
 * Each test asserts the rollout's end state, every instance's held version, the store's live version,
 * and that the version was written once.
 */
const KEY = 'tenant_config_peerFaults';
let rig: FaultRig;
const direct: FleetMember[] = [];

beforeAll(async () => {
  rig = await startFaultRig();
}, 120_000);

afterAll(async () => {
  await Promise.all(direct.map((instance) => instance.client.stop()));
  await rig?.stop();
});

const plan = (overrides: Partial<RolloutPlan> = {}): RolloutPlan => ({
  strategy: { kind: 'explicit', waves: ['100%'] },
  bakeSeconds: 0,
  approval: 'none',
  maxFailures: 0,
  push: { timeoutMs: 500, attempts: 2, concurrency: 8 },
  ...overrides,
});

/** A key live at `value`; one instance reached directly and `proxied` reached through proxies. */
async function setUp(proxied: number, value = '{"v":1}') {
  const tenantId = uniqueTenant('peer');
  const service = `orders-${randomUUID().slice(0, 6)}`;
  const address = { tenantId, key: KEY };
  await rig.server.store.put(address, value, { expectedVersion: 0, makeLive: true });
  const options = {
    server: rig.server,
    clients: rig.clients,
    service,
    tenancy: tenantId,
    preload: [address],
  };
  const healthy = await startInstance(options);
  direct.push(healthy);
  const behindProxy = [];
  for (let i = 0; i < proxied; i += 1) behindProxy.push(await rig.proxiedInstance(options));
  const request = (overrides: Partial<RolloutRequest> = {}): RolloutRequest => ({
    tenantId,
    key: KEY,
    change: { kind: 'set', value: '{"v":2}' },
    targetServices: [service],
    plan: plan(),
    actor: 'release-manager@peer',
    ...overrides,
  });
  const held = async (member: FleetMember) => (await member.client.get(tenantId, KEY))?.version;
  const versions = async () => (await rig.versions(address)).map((v) => v.version);
  return { address, service, healthy, behindProxy, request, held, versions };
}

/** An instance whose answers come 1.5 s late (past the 500 ms push timeout), and one whose link resets. */
async function slowAndResetting(world: Awaited<ReturnType<typeof setUp>>) {
  const [slow, resetting] = world.behindProxy;
  await slow!.link.add({
    type: 'latency',
    stream: 'downstream',
    name: 'slow-peer',
    toxicity: 1,
    attributes: { latency: 1500, jitter: 0 },
  });
  await resetting!.link.add({
    type: 'reset_peer',
    stream: 'upstream',
    name: 'resetting-peer',
    toxicity: 1,
    attributes: { timeout: 0 },
  });
  return { slow: slow!, resetting: resetting! };
}

test('a slow instance and a resetting one are counted failed within the budget; the rest go live', async () => {
  const world = await setUp(2);
  const { slow, resetting } = await slowAndResetting(world);
  const handle = await startRollout(
    rig.temporal,
    world.request({ plan: plan({ maxFailures: 2 }) }),
    rig.taskQueue,
  );
  const result = await handle.result();

  expect(result).toMatchObject({
    state: 'SUCCEEDED',
    liveVersion: 2,
    updatedInstances: 1,
    failedInstances: 2,
  });
  const { failedInstances } = await handle.query(progressQuery);
  expect(failedInstances.map((f) => f.instanceId).sort()).toEqual(
    [slow, resetting].map((m) => `${world.service}/${m.client.instanceId}`).sort(),
  );
  expect(await world.held(world.healthy)).toBe(2);
  // Never reached: it keeps the old version until its own version check catches up.
  expect(await world.held(resetting)).toBe(1);
  expect(await rig.server.store.getLive(world.address)).toMatchObject({ version: 2 });
  expect(await world.versions()).toEqual([2, 1]);
});

test('the same two faults over the budget roll back: every instance and the store stay on version 1', async () => {
  const world = await setUp(2);
  const { slow, resetting } = await slowAndResetting(world);
  const handle = await startRollout(
    rig.temporal,
    world.request({ plan: plan({ maxFailures: 1 }) }),
    rig.taskQueue,
  );
  const result = await handle.result();

  expect(result).toMatchObject({ state: 'ROLLED_BACK', liveVersion: 1 });
  expect(result.reason).toMatch(/2 instance\(s\) failed \(push\), over the plan's budget of 1/);
  // The slow instance did get the candidate (only its answers were late), and the revert after it.
  for (const member of [world.healthy, slow, resetting]) expect(await world.held(member)).toBe(1);
  expect(await rig.server.store.getLive(world.address)).toMatchObject({ version: 1 });
  expect(await world.versions()).toEqual([2, 1]);
});

// 150 KB, not more: moto counts an item's old value and its replacement together against DynamoDB's
// 400 KB item limit, so it refuses to promote a value over ~200 KB over a live one as large (Known limits).
test('a 150 KB value pushed over links throttled to 100 KB/s reaches every instance', async () => {
  const large = (v: number) => JSON.stringify({ v, blob: 'x'.repeat(150 * 1024) });
  const world = await setUp(2, large(1));
  for (const member of world.behindProxy) {
    await member.link.add({
      type: 'bandwidth',
      stream: 'upstream',
      name: 'thin-link',
      toxicity: 1,
      attributes: { rate: 100 },
    });
  }
  const handle = await startRollout(
    rig.temporal,
    world.request({
      change: { kind: 'set', value: large(2) },
      plan: plan({ push: { timeoutMs: 10_000, attempts: 2, concurrency: 8 } }),
    }),
    rig.taskQueue,
  );
  const result = await handle.result();

  expect(result).toMatchObject({
    state: 'SUCCEEDED',
    liveVersion: 2,
    updatedInstances: 3,
    failedInstances: 0,
  });
  for (const member of [world.healthy, ...world.behindProxy]) expect(await world.held(member)).toBe(2);
  expect(await rig.server.store.getLive(world.address)).toMatchObject({ version: 2, value: large(2) });
  expect(await world.versions()).toEqual([2, 1]);
});
