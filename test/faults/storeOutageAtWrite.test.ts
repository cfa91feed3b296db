import { setTimeout as sleep } from 'node:timers/promises';
import { startRollout } from '../../rolloutClient';
import { storePlan, useStoreFaultRig } from '../support/storeFaultKeys';

/**
 * Both stores gone for 20 s at the moment a rollout starts writing: the worker's DynamoDB and Parameter
 * Store links (Toxiproxy) disabled before two rollouts start, one of a DynamoDB key and one of a
 * Parameter Store key, so their first store calls (prepare, then the candidate's write) meet refused
 * connections and are retried with backoff. Once the stores are back, both finish, each version
 * written once, and every instance and the live version agree.
 */
const OUTAGE_MS = 20_000;
const world = useStoreFaultRig();

test('DynamoDB and Parameter Store down for 20 s as rollouts write: both finish once they are back, written once', async () => {
  const table = await world.keys.setUp('tenant_config_outageAtWrite');
  const parameter = await world.keys.setUp('param_config_outageAtWrite');
  await world.rig.dynamodb.setEnabled(false);
  await world.rig.ssm.setEnabled(false);
  const handles = [];
  try {
    for (const key of [table, parameter]) {
      handles.push(
        await startRollout(world.rig.temporal, key.request({ plan: storePlan() }), world.rig.taskQueue),
      );
    }
    await sleep(OUTAGE_MS);
  } finally {
    await world.rig.dynamodb.setEnabled(true);
    await world.rig.ssm.setEnabled(true);
  }
  const [tableRollout, parameterRollout] = handles;
  expect(await tableRollout!.result()).toMatchObject({ state: 'SUCCEEDED', liveVersion: 2 });
  expect(await parameterRollout!.result()).toMatchObject({ state: 'SUCCEEDED', liveVersion: 2 });
  await table.expectConsistent(2, [tableRollout!.firstExecutionRunId]);
  await parameter.expectConsistent(2, [parameterRollout!.firstExecutionRunId]);
}, 120_000);
