import type { Client } from '@temporalio/client';
import { LimitExceededError } from '../../common/errors';
import { RunningRolloutQuota } from '../../server/rollouts/runningRolloutQuota';

/**
 * The quota's counting with a Temporal stand-in whose visibility lags: it lists nothing, as visibility
 * does just after a start; describe answers for what this process started. The same quota against the
 * real stack: test/security/readPathAbuse.test.ts.
 */
function temporalStandIn(running: Set<string>) {
  const calls = { list: 0, describe: 0 };
  const client = {
    workflow: {
      list: () => {
        calls.list += 1;
        return (async function* () {})();
      },
      getHandle: (workflowId: string) => ({
        describe: () => {
          calls.describe += 1;
          return Promise.resolve({ status: { name: running.has(workflowId) ? 'RUNNING' : 'COMPLETED' } });
        },
      }),
    },
  } as unknown as Client;
  return { client, calls };
}

test('concurrent starts of one tenant: as many start as the quota allows, side by side; the rest are refused', async () => {
  const running = new Set<string>();
  const { client } = temporalStandIn(running);
  const quota = new RunningRolloutQuota(client, 3);
  let inFlight = 0;
  let mostInFlight = 0;
  let release: () => void = () => {};
  const released = new Promise<void>((resolve) => (release = resolve));
  const start = (workflowId: string) => async () => {
    inFlight += 1;
    mostInFlight = Math.max(mostInFlight, inFlight);
    await released;
    inFlight -= 1;
    running.add(workflowId);
    return { workflowId };
  };
  const answers = Array.from({ length: 6 }, (_, i) =>
    quota.admit('acme', start(`rollout-${i}`)).then(
      () => 'started',
      (error: unknown) => (error instanceof LimitExceededError ? 'refused' : 'failed'),
    ),
  );
  // Every admitted start is under way before any finishes: they do not wait for one another.
  await new Promise((resolve) => setTimeout(resolve, 50));
  expect(mostInFlight).toBe(3);
  release();
  expect((await Promise.all(answers)).sort()).toEqual([
    'refused',
    'refused',
    'refused',
    'started',
    'started',
    'started',
  ]);
});

test('a failed start frees its place; recent starts are asked about only when they could decide', async () => {
  const running = new Set<string>();
  const { client, calls } = temporalStandIn(running);
  const quota = new RunningRolloutQuota(client, 2);
  await expect(quota.admit('acme', () => Promise.reject(new Error('invalid value')))).rejects.toThrow(
    'invalid value',
  );
  running.add('first');
  await quota.admit('acme', () => Promise.resolve({ workflowId: 'first' }));
  // One recent start, under a quota of two: no describe needed to admit the second.
  expect(calls.describe).toBe(0);
  running.add('second');
  await quota.admit('acme', () => Promise.resolve({ workflowId: 'second' }));
  // Two recent starts reach the quota: now whether they still run decides.
  await expect(quota.admit('acme', () => Promise.resolve({ workflowId: 'third' }))).rejects.toThrow(
    LimitExceededError,
  );
  expect(calls.describe).toBe(2);
  running.delete('first');
  await quota.admit('acme', () => Promise.resolve({ workflowId: 'third' }));
});
