import { setTimeout as sleep } from 'node:timers/promises';
import { startRollout } from '../../rolloutClient';
import { progressQuery } from '../../workflows/definitions';
import { storePlan, useStoreFaultRig } from '../support/storeFaultKeys';

/**
 * The store gone for a while: the worker's DynamoDB link (Toxiproxy) disabled for 20 s while a rollout
 * bakes, so its promotion meets refused connections (in a file of its own: it takes its 20 s). And the
 * store refusing the promotion for good.
 */
const OUTAGE_MS = 20_000;
const world = useStoreFaultRig();

test('DynamoDB down for 20 s during the bake: the promotion waits it out and the rollout finishes', async () => {
  const key = await world.keys.setUp('tenant_config_storeOutage');
  const handle = await startRollout(
    world.rig.temporal,
    key.request({ plan: storePlan({ bakeSeconds: 5 }) }),
    world.rig.taskQueue,
  );
  for (;;) {
    const { state } = await handle.query(progressQuery);
    if (state === 'BAKING') break;
    expect(['PREPARING', 'ROLLING_OUT']).toContain(state);
    await sleep(100);
  }
  await world.rig.dynamodb.setEnabled(false);
  try {
    await sleep(OUTAGE_MS);
    // The bake ended long ago: the promotion is what waits for the store.
    expect((await handle.query(progressQuery)).state).toBe('PROMOTING');
  } finally {
    await world.rig.dynamodb.setEnabled(true);
  }
  expect(await handle.result()).toMatchObject({ state: 'SUCCEEDED', liveVersion: 2, updatedInstances: 2 });
  await key.expectConsistent(2, [handle.firstExecutionRunId]);
});

test('a promotion the store refuses for good rolls back: instances back on version 1, nothing live moved', async () => {
  // moto counts an item's old value and its replacement together against the 400 KB item limit, so it
  // refuses to make a 210 KB value live over another: a refusal of the promotion itself, with an answer.
  const large = (v: number) => JSON.stringify({ v, blob: 'x'.repeat(210 * 1024) });
  const key = await world.keys.setUp('tenant_config_refusedPromotion', large(1));
  const handle = await startRollout(
    world.rig.temporal,
    key.request({ change: { kind: 'set', value: large(2) } }),
    world.rig.taskQueue,
  );
  const result = await handle.result();
  expect(result).toMatchObject({ state: 'ROLLED_BACK', liveVersion: 1, candidateVersion: 2 });
  expect(result.reason).toMatch(/failed while promoting \(InvalidArgument\): DynamoDB refused the promotion/);
  await key.expectConsistent(1, [handle.firstExecutionRunId], large);
});
