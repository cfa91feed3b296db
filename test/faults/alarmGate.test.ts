import { WorkflowFailedError } from '@temporalio/client';
import { startRollout } from '../../rolloutClient';
import { reachState, startGated, tenantAlarms } from '../support/alarms';
import { type FaultRig, startFaultRig } from '../support/faultRig';
import { type StoreFaultKeys, storeFaultKeys, storePlan } from '../support/storeFaultKeys';

/**
 * The alarm gate on the real stack: real CloudWatch alarms on moto driven with SetAlarmState, a real
 * worker (polling every second) reaching CloudWatch through a Toxiproxy link, real SDK instances. An
 * alarm set to ALARM mid-bake rolls back; the same plan with the alarm OK succeeds; ALARM and back
 * between two polls still fails the gate; a tenant's plan cannot see another tenant's alarms.
 */
let rig: FaultRig;
let keys: StoreFaultKeys;

beforeAll(async () => {
  rig = await startFaultRig({ ALARM_POLL_INTERVAL_MS: '1000' });
  keys = storeFaultKeys(rig);
}, 120_000);

afterAll(async () => {
  await keys?.stop();
  await rig?.stop();
});

const alarms = () => tenantAlarms(rig.clients.cloudWatch);
const BREACH = 'Threshold Crossed: 1 datapoint [0.12] was greater than the threshold (0.05)';

test('an alarm set to ALARM mid-bake rolls back at once: every instance back on version 1, live unchanged, the alarm named', async () => {
  const key = await keys.setUp('tenant_config_alarmed');
  const { alarm, handle } = await startGated(rig, key, 'orders/5xx', { name: 'orders/5xx' }, 60);
  await reachState(handle, 'BAKING');
  await alarms().set(alarm, 'ALARM', BREACH);
  const result = await handle.result();
  expect(result).toMatchObject({ state: 'ROLLED_BACK', liveVersion: 1, candidateVersion: 2 });
  expect(result.reason).toBe(`alarm gate, wave 1: alarm ${alarm} is in ALARM: ${BREACH}`);
  await key.expectConsistent(1, [handle.firstExecutionRunId]);
  // The trip ended the 60 s bake: its timer never fired.
  const { events = [] } = await handle.fetchHistory();
  expect((events ?? []).some((event) => event.timerFiredEventAttributes)).toBe(false);
});

test('the same plan with its alarm staying OK succeeds: every instance and live on version 2', async () => {
  const key = await keys.setUp('tenant_config_quiet');
  const { handle } = await startGated(rig, key, 'orders/5xx', { name: 'orders/5xx' }, 3);
  expect(await handle.result()).toMatchObject({ state: 'SUCCEEDED', liveVersion: 2, updatedInstances: 2 });
  await key.expectConsistent(2, [handle.firstExecutionRunId]);
});

test('an alarm that goes to ALARM and back to OK between two polls still fails the gate', async () => {
  const key = await keys.setUp('tenant_config_flapped');
  const { alarm, handle } = await startGated(rig, key, 'orders/latency', { prefix: 'orders/' }, 60);
  await reachState(handle, 'BAKING');
  // Back to OK a few milliseconds later: a poll a second would almost never see it in ALARM.
  await alarms().set(alarm, 'ALARM', BREACH);
  await alarms().set(alarm, 'OK', 'Threshold Crossed: back under');
  const result = await handle.result();
  expect(result).toMatchObject({ state: 'ROLLED_BACK', liveVersion: 1 });
  expect(result.reason).toContain(`alarm gate, wave 1: alarm ${alarm}`);
  expect(result.reason).toContain(BREACH);
  await key.expectConsistent(1, [handle.firstExecutionRunId]);
});

test("a tenant's plan cannot see another tenant's alarm, by name or by prefix: refused before anything is written, and never gated by it", async () => {
  const key = await keys.setUp('tenant_config_nosy');
  const tenant = key.address.tenantId;
  // A neighbour whose id starts with this tenant's, its alarm firing.
  const neighbour = await alarms().create(`${tenant}x`, 'orders/5xx');
  await alarms().set(neighbour, 'ALARM', BREACH);
  for (const selector of [{ name: 'orders/5xx' }, { name: neighbour }, { prefix: 'orders' }]) {
    const handle = await startRollout(
      rig.temporal,
      key.request({ plan: storePlan({ alarms: [selector] }) }),
      rig.taskQueue,
    );
    const failure = await handle.result().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    const field = 'name' in selector ? 'plan.alarms[0].name' : 'plan.alarms[0].prefix';
    expect(causes(failure)).toContain(
      `${field}: no alarm ${'name' in selector ? 'config-rollouts' : 'starts with config-rollouts'}/${tenant}/`,
    );
  }
  // Its own alarm under the same prefix is the only one its rollout watches: it passes.
  const { handle } = await startGated(rig, key, 'orders/5xx', { prefix: 'orders' }, 2);
  expect(await handle.result()).toMatchObject({ state: 'SUCCEEDED', liveVersion: 2 });
  // The refused rollouts wrote nothing: one version besides the first, this rollout's.
  await key.expectConsistent(2, [handle.firstExecutionRunId]);
});

/** Every message down an error's chain of causes. */
function causes(error: unknown): string {
  const messages: string[] = [];
  for (let cause = error; cause instanceof Error; cause = cause.cause) messages.push(cause.message);
  return messages.join(' <- ');
}
