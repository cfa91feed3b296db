import { startRollout } from '../../rolloutClient';
import { useStoreFaultRig } from '../support/storeFaultKeys';

/**
 * Store faults on real sockets: the worker's DynamoDB and Parameter Store links go
 * through Toxiproxy, which slows them or loses their answers during rollouts. Each test asserts the
 * rollout's end state, every instance's held version, the store's live version, and that each rollout
 * wrote its version once. The store down mid-bake is storeOutage.test.ts.
 */
const world = useStoreFaultRig();

test('every DynamoDB call 2 s slower: the rollout succeeds, written once, live and held everywhere', async () => {
  const key = await world.keys.setUp('tenant_config_slowStore');
  const removeLatency = await world.rig.dynamodb.add({
    type: 'latency',
    stream: 'downstream',
    name: 'slow-store',
    toxicity: 1,
    attributes: { latency: 2000, jitter: 0 },
  });
  try {
    const handle = await startRollout(world.rig.temporal, key.request(), world.rig.taskQueue);
    expect(await handle.result()).toMatchObject({ state: 'SUCCEEDED', liveVersion: 2, updatedInstances: 2 });
    await key.expectConsistent(2, [handle.firstExecutionRunId]);
  } finally {
    await removeLatency();
  }
});

/** Rollouts in a row under lost answers: a write's answer is lost about every other time, so four in a
 * row lose at least one write's answer fifteen times in sixteen. */
const ROLLOUTS_UNDER_RESETS = 4;
/**
 * What four rollouts may take here: each store activity retries with backoff (1, 2, 4, 8, 16 s...:
 * workflows/activityGroups.ts), and under half the connections reset an activity can need five or six
 * attempts (a fresh clone's run saw prepareRollout's sixth): 31 s or more for one activity, which
 * overran jest's 60 s default. The bound follows the retry policy; the test asserts no speed.
 */
const UNDER_RESETS_TIMEOUT_MS = 240_000;

test.each(['tenant_config_resetStore', 'param_config_resetStore'])(
  'answers of the store reset during writes and promotions (%s): each rollout ends clean, written once',
  async (name) => {
    const key = await world.keys.setUp(name);
    // Half the store's connections lose their answer: the request was applied, the answer is gone,
    // which is what makes a resent write dangerous.
    const link = name.startsWith('param_config_') ? world.rig.ssm : world.rig.dynamodb;
    let live = 1;
    const runIds: string[] = [];
    for (let n = 2; n < 2 + ROLLOUTS_UNDER_RESETS; n += 1) {
      const removeResets = await link.add({
        type: 'reset_peer',
        stream: 'downstream',
        name: 'lost-answers',
        toxicity: 0.5,
        attributes: { timeout: 0 },
      });
      try {
        const handle = await startRollout(
          world.rig.temporal,
          key.request({ change: { kind: 'set', value: `{"v":${n}}` } }),
          world.rig.taskQueue,
        );
        runIds.push(handle.firstExecutionRunId);
        const result = await handle.result();
        expect(['SUCCEEDED', 'ROLLED_BACK']).toContain(result.state);
        if (result.state === 'SUCCEEDED') live = n;
        expect(result.liveVersion).toBe(live);
      } finally {
        await removeResets();
      }
      await key.expectConsistent(live, runIds);
    }
  },
  UNDER_RESETS_TIMEOUT_MS,
);
