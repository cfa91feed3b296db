import { setTimeout as sleep } from 'node:timers/promises';
import { reachState, startGated } from '../support/alarms';
import { useStoreFaultRig } from '../support/storeFaultKeys';

/**
 * CloudWatch unreachable under a gated rollout (the worker's CloudWatch link, Toxiproxy, disabled while
 * the wave bakes): for longer than the watch's retries the gate fails closed and rolls back, saying so;
 * for a moment the watch's retries ride it out. In a file of its own: the first takes the retries' time.
 */
const world = useStoreFaultRig({ ALARM_POLL_INTERVAL_MS: '1000' });

test('CloudWatch unreachable mid-bake for longer than the retries: the gate fails closed, every instance back on version 1', async () => {
  const key = await world.keys.setUp('tenant_config_blind');
  const { handle } = await startGated(world.rig, key, 'orders/5xx', { name: 'orders/5xx' }, 300);
  await reachState(handle, 'BAKING');
  await world.rig.cloudWatch.setEnabled(false);
  try {
    const result = await handle.result();
    expect(result).toMatchObject({ state: 'ROLLED_BACK', liveVersion: 1, candidateVersion: 2 });
    expect(result.reason).toMatch(
      /^alarm gate, wave 1: CloudWatch could not be read \(.+\), so the rollout fails closed$/,
    );
  } finally {
    await world.rig.cloudWatch.setEnabled(true);
  }
  await key.expectConsistent(1, [handle.firstExecutionRunId]);
}, 120_000);

test('CloudWatch gone for a moment mid-bake: the watch retries through it and the rollout succeeds', async () => {
  const key = await world.keys.setUp('tenant_config_blink');
  const { handle } = await startGated(world.rig, key, 'orders/5xx', { name: 'orders/5xx' }, 4);
  await reachState(handle, 'BAKING');
  await world.rig.cloudWatch.setEnabled(false);
  await sleep(1500);
  await world.rig.cloudWatch.setEnabled(true);
  expect(await handle.result()).toMatchObject({ state: 'SUCCEEDED', liveVersion: 2 });
  await key.expectConsistent(2, [handle.firstExecutionRunId]);
}, 60_000);
