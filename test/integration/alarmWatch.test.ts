import { setTimeout as sleep } from 'node:timers/promises';
import { AlarmWatch } from '../../activities/alarms/alarmWatch';
import { destroyAwsClients } from '../../activities/awsClients';
import { MAX_ALARMS_PER_PREFIX } from '../../common/alarms';
import { InvalidArgumentError, NotFoundError } from '../../common/errors';
import { createLogger } from '../../common/logger';
import { tenantAlarms } from '../support/alarms';
import { stackClients, uniqueTenant } from '../support/env';

/**
 * The alarm gate's reads against real alarms on the stack's moto, without a workflow: platform-wide
 * alarms gate every tenant's look, a missing one is named by its setting, a prefix past its bound is
 * refused, and a look reads an alarm's history only from the wave's start.
 */
const clients = stackClients();
const alarms = tenantAlarms(clients.cloudWatch);
const logger = createLogger({ component: 'test' }, 'error');
const watchWith = (platformAlarms: string[] = []) =>
  new AlarmWatch({ client: clients.cloudWatch, platformAlarms, pollIntervalMs: 1000, logger });

afterAll(() => destroyAwsClients(clients));

test("a platform-wide alarm in ALARM trips every tenant's look; a missing one is named by its setting", async () => {
  const tenant = uniqueTenant('watch');
  await alarms.create(tenant, 'orders/5xx');
  const platform = await alarms.create(uniqueTenant('platform'), 'incident');
  const since = new Date();
  expect(await watchWith([platform]).check(tenant, [{ name: 'orders/5xx' }], since)).toBeUndefined();
  await alarms.set(platform, 'ALARM', 'declared incident');
  expect(await watchWith([platform]).check(tenant, [{ name: 'orders/5xx' }], since)).toEqual({
    alarm: platform,
    reason: `alarm ${platform} is in ALARM: declared incident`,
  });
  const missing = watchWith(['no-such-platform-alarm']).resolve(tenant, [{ name: 'orders/5xx' }]);
  await expect(missing).rejects.toThrow(NotFoundError);
  await expect(missing).rejects.toMatchObject({
    field: 'ROLLOUT_PLATFORM_ALARMS',
    message: 'ROLLOUT_PLATFORM_ALARMS: no alarm no-such-platform-alarm',
  });
});

test(`a prefix matching more than ${MAX_ALARMS_PER_PREFIX} alarms is refused naming the field; a look fails the gate on it`, async () => {
  const tenant = uniqueTenant('many');
  for (let i = 0; i <= MAX_ALARMS_PER_PREFIX; i += 1) await alarms.create(tenant, `orders/a${i}`);
  const watch = watchWith();
  await expect(watch.resolve(tenant, [{ name: 'orders/a0' }, { prefix: 'orders/' }])).rejects.toThrow(
    new InvalidArgumentError(
      `plan.alarms[1].prefix: config-rollouts/${tenant}/orders/ matches more than ${MAX_ALARMS_PER_PREFIX} alarms; name a narrower prefix`,
    ),
  );
  // a1 and a10 to a19: within the bound.
  expect(await watch.resolve(tenant, [{ prefix: 'orders/a1' }])).toHaveLength(MAX_ALARMS_PER_PREFIX - 9);
  expect((await watch.check(tenant, [{ prefix: 'orders/' }], new Date()))?.reason).toMatch(
    /^plan\.alarms\[0\]\.prefix: .* matches more than/,
  );
});

test("a look reads an alarm's history from the wave's start: a trip before it does not count, one after it does", async () => {
  const tenant = uniqueTenant('history');
  const alarm = await alarms.create(tenant, 'orders/5xx');
  await alarms.set(alarm, 'ALARM', 'before the wave');
  await alarms.set(alarm, 'OK', 'recovered');
  await sleep(50);
  const waveStart = new Date();
  const watch = watchWith();
  expect(await watch.check(tenant, [{ name: 'orders/5xx' }], waveStart)).toBeUndefined();
  await alarms.set(alarm, 'ALARM', 'during the wave');
  await alarms.set(alarm, 'OK', 'recovered again');
  expect((await watch.check(tenant, [{ name: 'orders/5xx' }], waveStart))?.reason).toMatch(
    new RegExp(`^alarm ${alarm} went to ALARM at \\S+ \\(during the wave\\) and is OK again$`),
  );
});
