import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { destroyAwsClients, type AwsClients } from '../../activities/awsClients';
import type { ConfigAddress } from '../../common/configAddress';
import { startRollout } from '../../rolloutClient';
import { stackClients, uniqueTenant } from '../support/env';
import { type FleetMember, startInstance } from '../support/fleet';
import type { HealthHook } from '../../sdk';
import { type PrivateStack, startPrivateStack, type StatefulServer } from '../support/privateStack';
import { waitForState } from '../support/rolloutState';
import { startTestServer, type TestServer } from '../support/server';
import { until } from '../support/until';

/**
 * A stack server SIGKILLed while a real rollout bakes, then restarted on the data it kept: the rollout
 * carries on where it was and ends SUCCEEDED, each instance on the candidate, the candidate live, and
 * one version written. On a private stack (test/support/privateStack.ts) with its own config service,
 * in-process rollout worker and SDK instances, so the stack the other test files share is not touched.
 */
const BAKE_SECONDS = 3;
let stack: PrivateStack;
let clients: AwsClients;
let server: TestServer;
const instances: FleetMember[] = [];

beforeAll(async () => {
  stack = await startPrivateStack('killed-mid-rollout');
  clients = stackClients();
  server = await startTestServer({ rollouts: true });
}, 60_000);

afterAll(async () => {
  await Promise.all(instances.map((instance) => instance.client.stop()));
  await server?.stop();
  if (clients) destroyAwsClients(clients);
  await stack?.close();
});

/** A key at version 1, live, held by a silo (with `health` as its app's health) and a pooled instance. */
async function fleetHolding(address: Omit<ConfigAddress, 'tenantId'>, value: string, health?: HealthHook) {
  const tenantId = uniqueTenant('killmid');
  const service = address.service ?? `killmid-${randomUUID().slice(0, 6)}`;
  const key = { tenantId, key: address.key, ...(address.service ? { service } : {}) };
  await server.store.put(key, value, { expectedVersion: 0, makeLive: true });
  const members: FleetMember[] = [];
  for (const tenancy of [tenantId, 'pool']) {
    const member = await startInstance({
      server,
      clients,
      service,
      tenancy,
      preload: [key],
      ...(health && tenancy !== 'pool' ? { health } : {}),
    });
    instances.push(member);
    members.push(member);
  }
  return { key, service, members };
}

function rollOut(key: ConfigAddress, service: string, value: string) {
  return startRollout(
    server.temporal!,
    {
      ...key,
      change: { kind: 'set', value },
      targetServices: [service],
      plan: {
        strategy: { kind: 'explicit', waves: ['100%'] },
        bakeSeconds: BAKE_SECONDS,
        approval: 'none',
        maxFailures: 0,
        push: { timeoutMs: 2000, attempts: 2, concurrency: 4 },
      },
      actor: 'alice',
    },
    server.taskQueue,
  );
}

/** SUCCEEDED; every instance holds version 2, version 2 is live, and it is the one version written. */
async function expectRolledOut(
  handle: Awaited<ReturnType<typeof rollOut>>,
  key: ConfigAddress,
  members: FleetMember[],
) {
  expect(await handle.result()).toMatchObject({
    state: 'SUCCEEDED',
    candidateVersion: 2,
    liveVersion: 2,
    updatedInstances: 2,
    failedInstances: 0,
  });
  for (const member of members)
    expect((await member.client.get(key.tenantId, key.key, key.service))?.version).toBe(2);
  expect((await server.store.getLive(key)).version).toBe(2);
  expect((await server.store.history(key)).map((entry) => entry.version)).toEqual([2, 1]);
}

/**
 * Rolls `values[1]` out, SIGKILLs `killed` once the wave bakes, restarts it on its data (Temporal after
 * its bake timer fell due; a store once the promotion has failed against it), and asserts the end state.
 */
async function survivesMidBake(
  killed: StatefulServer,
  address: Omit<ConfigAddress, 'tenantId'>,
  values: [string, string],
) {
  const { key, service, members } = await fleetHolding(address, values[0]);
  const handle = await rollOut(key, service, values[1]);
  await waitForState(handle, 'BAKING');
  await stack.kill(killed);
  if (killed === 'temporal') {
    // Down for longer than the bake: its timer falls due while no server keeps it.
    await sleep(BAKE_SECONDS * 1000);
  } else {
    // Down until the promotion has failed against it at least once, and is retried.
    const retried = await until('the promotion failing and being retried', async () => {
      const { raw } = await handle.describe();
      return raw.pendingActivities?.find((activity) => (activity.attempt ?? 0) >= 2);
    });
    expect(retried.activityType?.name).toBe('promoteCandidate');
  }
  await stack.up();
  await expectRolledOut(handle, key, members);
}

test('Temporal SIGKILLed mid-bake and restarted: the rollout resumes and succeeds, the candidate live and written once', async () => {
  await survivesMidBake('temporal', { key: 'tenant_config_featureFlags' }, ['{"v":1}', '{"v":2}']);
}, 60_000);

test('the DynamoDB server SIGKILLed mid-bake and restarted: the promotion waits for it and the rollout succeeds', async () => {
  await survivesMidBake('dynamodb', { key: 'tenant_config_featureFlags' }, ['{"v":1}', '{"v":2}']);
}, 60_000);

test('the Parameter Store and Cloud Map server SIGKILLed mid-bake and restarted: a param_config_ rollout succeeds', async () => {
  await survivesMidBake('moto', { key: 'param_config_dbHost', service: 'killmid' }, [
    'db-1.internal',
    'db-2.internal',
  ]);
}, 60_000);

test('Temporal SIGKILLed with a push in flight and restarted: the push is reported and the rollout succeeds, applied once', async () => {
  // The silo's health hook runs inside every Refresh: holding it keeps the push in flight meanwhile.
  let holding = true;
  let release = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  let pushArrived = () => {};
  const arrived = new Promise<void>((resolve) => (pushArrived = resolve));
  const { key, service, members } = await fleetHolding(
    { key: 'tenant_config_featureFlags' },
    '{"v":1}',
    async () => {
      if (holding) {
        pushArrived();
        await held;
      }
      return true;
    },
  );
  const applied: number[] = [];
  members[0]!.client.onChange(key.key, (change) => {
    if (change.tenantId === key.tenantId && change.current) applied.push(change.current.version);
  });
  const handle = await rollOut(key, service, '{"v":2}');
  await arrived;
  await stack.kill('temporal');
  holding = false;
  release();
  await stack.up();
  await expectRolledOut(handle, key, members);
  expect(applied).toEqual([2]);
}, 60_000);
