import { Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import type { ReconcileActivities } from '../../activities/reconcile/reconcileActivities';
import type { ReconcileResult, ReconcileScope } from '../../common/reconcile';
import { workerDataConverter } from '../../server/payloadEncryption/workerDataConverter';
import type { reconcileFleetWorkflow } from '../../workflows/reconcileWorkflow';
import { testCodec, useTimeSkipping } from '../support/timeSkipping';

/**
 * The fleet pass's own logic on the time-skipping server, its activities faked at the activity boundary
 * (the real ones run against the stack in test/faults/reconciler.test.ts): one child per tenant and
 * service, totals carried across continue-as-new, a failed pass counted and not fatal.
 */
const server = useTimeSkipping();

/** Fake passes: one repair each, except for the scopes named in `failing`. */
function fakeActivities(tenants: string[], services: string[], failing: ReadonlySet<string> = new Set()) {
  const passed: ReconcileScope[] = [];
  const activities: ReconcileActivities = {
    reconcileTargets: () => Promise.resolve({ tenants, services }),
    reconcileTenant: ({ scope }) => {
      if (failing.has(`${scope.tenantId}/${scope.service}`))
        return Promise.reject(new Error('Cloud Map is unavailable'));
      passed.push(scope);
      const result: ReconcileResult = {
        ...scope,
        instances: 1,
        keys: 1,
        skippedKeys: [],
        unreachable: [],
        repairs: [
          {
            instance: `${scope.service}/i-1`,
            key: 'tenant_config_flags',
            kind: 'missed-push',
            heldVersion: 1,
            sentVersion: 2,
            succeeded: true,
          },
        ],
        moreRepairs: 0,
      };
      return Promise.resolve(result);
    },
  };
  return { activities, passed };
}

async function runFleet(activities: ReconcileActivities) {
  const taskQueue = `reconcile-${randomUUID()}`;
  const worker = await Worker.create({
    connection: server.env.nativeConnection,
    taskQueue,
    workflowBundle: server.bundle,
    activities,
    dataConverter: workerDataConverter(testCodec),
  });
  return worker.runUntil(async () => {
    const handle = await server.env.client.workflow.start<typeof reconcileFleetWorkflow>(
      'reconcileFleetWorkflow',
      {
        taskQueue,
        workflowId: `reconcile-fleet-${randomUUID()}`,
        args: [{}],
      },
    );
    return { totals: await handle.result(), history: await handle.fetchHistory() };
  });
}

test('a fleet run passes every tenant on every service once, continuing as new past 100 passes', async () => {
  const tenants = Array.from({ length: 21 }, (_, index) => `t${index}`);
  const services = ['orders', 'billing', 'search', 'mail', 'auth'];
  const { activities, passed } = fakeActivities(tenants, services);

  const { totals } = await runFleet(activities);

  expect(totals).toEqual({ passes: 105, repaired: 105, failedPasses: 0 });
  expect(new Set(passed.map((scope) => `${scope.tenantId}/${scope.service}`)).size).toBe(105);
}, 120_000);

test('a pass that fails is counted, and the others still run; the run replays deterministically', async () => {
  const { activities, passed } = fakeActivities(['a', 'b'], ['orders'], new Set(['a/orders']));

  const { totals, history } = await runFleet(activities);

  expect(totals).toEqual({ passes: 2, repaired: 1, failedPasses: 1 });
  expect(passed).toEqual([{ tenantId: 'b', service: 'orders' }]);
  await expect(
    Worker.runReplayHistory(
      { workflowBundle: server.bundle, dataConverter: workerDataConverter(testCodec) },
      history,
    ),
  ).resolves.toBeUndefined();
}, 120_000);
