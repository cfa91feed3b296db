import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import { LimitExceededError } from '../../common/errors';
import { type PendingStart, RunningRolloutQuota } from '../../server/rollouts/runningRolloutQuota';

/** A start of `workflowId` whose validation has passed. */
function pending<T>(workflowId: string, run: () => Promise<T>): PendingStart<T> {
  return { workflowId: Promise.resolve(workflowId), run };
}

/**
 * The quota's counting with a Temporal stand-in whose visibility lags: it lists only what a test makes
 * visible (nothing, as just after a start); describe answers for what this process started. The same quota against the
 * real stack: test/security/readPathAbuse.test.ts.
 */
function temporalStandIn(running: Set<string>, visible: Set<string> = new Set()) {
  const calls = { list: 0, describe: 0 };
  const client = {
    workflow: {
      list: () => {
        calls.list += 1;
        return (async function* () {
          for (const workflowId of visible) yield { workflowId };
        })();
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
  const start = (workflowId: string) =>
    pending(workflowId, async () => {
      inFlight += 1;
      mostInFlight = Math.max(mostInFlight, inFlight);
      await released;
      inFlight -= 1;
      running.add(workflowId);
      return { workflowId };
    });
  const answers = Array.from({ length: 6 }, (_, i) =>
    quota.admit('acme', start(`rollout-${i}`)).then(
      () => 'started',
      (error: unknown) => (error instanceof LimitExceededError ? 'refused' : 'failed'),
    ),
  );
  // Every admitted start is under way before any finishes: they do not wait for one another.
  await sleep(50);
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
  const invalid = Promise.reject(new Error('invalid value'));
  await expect(
    quota.admit('acme', { workflowId: invalid, run: () => Promise.resolve({ workflowId: 'never' }) }),
  ).rejects.toThrow('invalid value');
  await expect(
    quota.admit(
      'acme',
      pending('failing', () => Promise.reject(new Error('down'))),
    ),
  ).rejects.toThrow('down');
  running.add('first');
  await quota.admit(
    'acme',
    pending('first', () => Promise.resolve({ workflowId: 'first' })),
  );
  // One recent start, under a quota of two: no describe needed to admit the second.
  expect(calls.describe).toBe(0);
  running.add('second');
  await quota.admit(
    'acme',
    pending('second', () => Promise.resolve({ workflowId: 'second' })),
  );
  // Two recent starts reach the quota: now whether they still run decides.
  await expect(
    quota.admit(
      'acme',
      pending('third', () => Promise.resolve({ workflowId: 'third' })),
    ),
  ).rejects.toThrow(LimitExceededError);
  expect(calls.describe).toBe(2);
  running.delete('first');
  await quota.admit(
    'acme',
    pending('third', () => Promise.resolve({ workflowId: 'third' })),
  );
});

test('starts of one key hold one place between them: the quota never answers for the race of one key', async () => {
  const running = new Set<string>();
  const { client } = temporalStandIn(running);
  const quota = new RunningRolloutQuota(client, 2);
  let release: () => void = () => {};
  const released = new Promise<void>((resolve) => (release = resolve));
  // Ten release managers start the same key while a second key starts: the twelve fit a quota of two.
  const sameKey = Array.from({ length: 10 }, () =>
    quota.admit(
      'acme',
      pending('same', async () => {
        await released;
        return 'raced';
      }),
    ),
  );
  const other = quota.admit(
    'acme',
    pending('other', () => Promise.resolve('started')),
  );
  await sleep(20);
  release();
  expect(await Promise.all([...sameKey, other])).toEqual([...Array<string>(10).fill('raced'), 'started']);
  running.add('same');
  running.add('other');
  await expect(
    quota.admit(
      'acme',
      pending('third', () => Promise.resolve('started')),
    ),
  ).rejects.toThrow(LimitExceededError);
});

test('a start already listed by visibility while its call returns is counted once', async () => {
  const running = new Set<string>();
  const visible = new Set<string>();
  const { client } = temporalStandIn(running, visible);
  const quota = new RunningRolloutQuota(client, 2);
  let release: () => void = () => {};
  const released = new Promise<void>((resolve) => (release = resolve));
  const first = quota.admit(
    'acme',
    pending('first', async () => {
      // Temporal has started it and visibility lists it before this call has returned.
      running.add('first');
      visible.add('first');
      await released;
      return 'started';
    }),
  );
  await sleep(20);
  const second = quota.admit(
    'acme',
    pending('second', () => Promise.resolve('started')),
  );
  await expect(second).resolves.toBe('started');
  release();
  await expect(first).resolves.toBe('started');
});

test('a start of a key that already runs is let through to learn RolloutInProgress, even at the quota', async () => {
  const running = new Set(['a', 'b']);
  const { client } = temporalStandIn(running, running);
  const quota = new RunningRolloutQuota(client, 2);
  await expect(
    quota.admit(
      'acme',
      pending('a', () => Promise.resolve('asked')),
    ),
  ).resolves.toBe('asked');
  await expect(
    quota.admit(
      'acme',
      pending('c', () => Promise.resolve('asked')),
    ),
  ).rejects.toThrow(LimitExceededError);
});

test("one tenant at its quota leaves another tenant's start alone, even a start of the same key", async () => {
  const running = ['rollout:acme:-:tenant_config_flags', 'rollout:acme:-:tenant_config_other'];
  // Visibility as the real query asks it: only the running rollouts of the tenant the query names.
  const client = {
    workflow: {
      list: ({ query }: { query: string }) =>
        (async function* () {
          const tenant = /TenantId = '([^']+)'/.exec(query)?.[1];
          for (const workflowId of running)
            if (workflowId.startsWith(`rollout:${tenant}:`)) yield { workflowId };
        })(),
    },
  } as unknown as Client;
  const quota = new RunningRolloutQuota(client, 2);
  await expect(
    quota.admit(
      'acme',
      pending('rollout:acme:-:tenant_config_third', () => Promise.resolve('asked')),
    ),
  ).rejects.toThrow(LimitExceededError);
  await expect(
    quota.admit(
      'globex',
      pending('rollout:globex:-:tenant_config_flags', () => Promise.resolve('started')),
    ),
  ).resolves.toBe('started');
});
