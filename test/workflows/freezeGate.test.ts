import { setTimeout as sleep } from 'node:timers/promises';
import type { PayloadCodec } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
// The package's index exports only the workflow client; this one wraps a whole Client the same way.
import { TimeSkippingClient } from '@temporalio/testing/lib/client';
import { Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { type ChangeWindow, type Freeze, WEEKDAYS } from '../../common/freezes';
import type { RolloutPlan, RolloutProgress, RolloutRequest } from '../../common/rollout';
import { temporalDataConverter } from '../../rolloutClient/payloadEncryption/dataConverter';
import { workerDataConverter } from '../../server/payloadEncryption/workerDataConverter';
import { startRollout } from '../../rolloutClient';
import { gatesChangedSignal, progressQuery } from '../../workflows/definitions';
import { FakeFleet } from '../support/fakeFleet';
import { expectReplays, recordedHistory } from '../support/recordedHistories';
import { useTimeSkipping } from '../support/timeSkipping';

/**
 * Freezes and change windows on Temporal's time-skipping test server: hour-long bakes, rechecks of a
 * freeze and waits for a window take no wall time. The gates are faked at the activity boundary
 * (FakeFleet.gates is what the store holds); the real store and REST API are in test/faults/freezes.
 * Payloads stay in the clear, so a history recorded here is stored as it is.
 */
const timeSkipping = useTimeSkipping();
const plain: PayloadCodec = { encode: async (payloads) => payloads, decode: async (payloads) => payloads };
const launched: {
  terminate(reason: string): Promise<unknown>;
  describe(): Promise<{ status: { name: string } }>;
}[] = [];

afterEach(async () => {
  for (const handle of launched.splice(0)) {
    if ((await handle.describe()).status.name === 'RUNNING') await handle.terminate('test cleanup');
  }
});

const freeze: Freeze = {
  scope: 'platform',
  frozenBy: 'ops-erin',
  frozenAt: '2026-12-01T10:00:00.000Z',
  reason: 'INC-42: payments degraded',
};

function request(plan: Partial<RolloutPlan> = {}): RolloutRequest {
  return {
    tenantId: `t-${randomUUID().slice(0, 8)}`,
    key: 'tenant_config_flags',
    change: { kind: 'set', value: '{"beta":true}' },
    targetServices: ['orders'],
    plan: {
      strategy: { kind: 'explicit', waves: [1, '100%'] },
      bakeSeconds: 3600,
      approval: 'none',
      maxFailures: 0,
      ...plan,
    },
    actor: 'alice',
  };
}

/** Runs `body` with a worker serving the fake fleet and a client of its own, both in the clear. */
async function withRollout<T>(
  fleet: FakeFleet,
  rollout: RolloutRequest,
  body: (handle: Awaited<ReturnType<typeof startRollout>>) => Promise<T>,
): Promise<T> {
  const { env, bundle } = timeSkipping;
  const taskQueue = `rollouts-${randomUUID()}`;
  // Time skips while it waits for a result, as the environment's own client does, with no codec.
  const client = new TimeSkippingClient({
    connection: env.connection,
    dataConverter: temporalDataConverter(plain),
  });
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: bundle,
    activities: fleet.activities(),
    dataConverter: workerDataConverter(plain),
  });
  return worker.runUntil(async () => {
    const handle = await startRollout(client, rollout, taskQueue);
    launched.push(handle);
    return body(handle);
  });
}

/** Polls the progress query (which does not advance time) until `ready` holds. */
async function until(
  handle: { query: (query: typeof progressQuery) => Promise<RolloutProgress> },
  ready: (progress: RolloutProgress) => boolean,
): Promise<RolloutProgress> {
  for (let i = 0; i < 200; i += 1) {
    const progress = await handle.query(progressQuery);
    if (ready(progress)) return progress;
    await sleep(50);
  }
  throw new Error(`never ready: ${JSON.stringify(await handle.query(progressQuery))}`);
}

test('a rollout started during a freeze waits PAUSED before its first push; lifting it (signalled) runs it to the end', async () => {
  const fleet = new FakeFleet(4, { liveVersion: 1 });
  fleet.gates = { platformFreeze: freeze };
  const { progress, result } = await withRollout(fleet, request({ bakeSeconds: 0 }), async (handle) => {
    const held = await until(handle, (p) => p.state === 'PAUSED');
    expect(fleet.pushes).toEqual([]);
    fleet.gates = {};
    await handle.signal(gatesChangedSignal, { actor: 'ops-erin', action: 'unfreeze' });
    return { progress: held, result: await handle.result() };
  });
  expect(progress.hold).toEqual({ gate: 'freeze', ...freeze });
  const frozen = progress.audit.find((entry) => entry.action === 'freeze');
  expect(frozen?.actor).toBe('ops-erin');
  expect(frozen?.reason).toContain('INC-42: payments degraded');
  expect(result).toMatchObject({ state: 'SUCCEEDED', liveVersion: 2, updatedInstances: 4 });
  expect(fleet.heldVersions()).toEqual([2, 2, 2, 2]);
});

test('a freeze whose signal is lost still holds the next wave (read at the boundary), and its lifting is found by a recheck', async () => {
  const fleet = new FakeFleet(4, { liveVersion: 1 });
  const { held, result, history } = await withRollout(fleet, request(), async (handle) => {
    await until(handle, (p) => p.state === 'BAKING');
    // Frozen in the store, no signal sent: the canary's bake ends, and the boundary reads the freeze.
    fleet.gates = { tenantFreeze: { ...freeze, scope: 'tenant', frozenBy: 'rm-bob' } };
    await timeSkipping.env.sleep('2 hours');
    const paused = await until(handle, (p) => p.state === 'PAUSED');
    // Lifted in the store, again without a signal.
    fleet.gates = {};
    return { held: paused, result: await handle.result(), history: await handle.fetchHistory() };
  });
  expect(held).toMatchObject({
    currentWave: 1,
    hold: { gate: 'freeze', scope: 'tenant', frozenBy: 'rm-bob' },
  });
  expect(held.instances.updated).toBe(1);
  expect(result).toMatchObject({ state: 'SUCCEEDED', updatedInstances: 4 });
  expect(fleet.heldVersions()).toEqual([2, 2, 2, 2]);
  expect(fleet.gateReads).toBeGreaterThanOrEqual(2);
  const unfreeze = (await lastProgress(history)).audit.find((entry) => entry.action === 'unfreeze');
  expect(unfreeze).toMatchObject({ actor: 'freeze-gate' });
});

test('a freeze that holds instances on the candidate past maxPauseSeconds rolls back, naming the freeze', async () => {
  const fleet = new FakeFleet(4, { liveVersion: 1 });
  const result = await withRollout(fleet, request({ maxPauseSeconds: 7200 }), async (handle) => {
    await until(handle, (p) => p.state === 'BAKING');
    fleet.gates = { platformFreeze: freeze };
    return handle.result();
  });
  expect(result).toMatchObject({ state: 'ROLLED_BACK', liveVersion: 1 });
  expect(result.reason).toMatch(/held by a freeze longer than the plan allows \(7200 s\)/);
  expect(result.reason).toMatch(/the platform was frozen by ops-erin .*INC-42: payments degraded/);
  expect(fleet.promoted).toEqual([]);
  expect(fleet.heldVersions()).toEqual([1, 1, 1, 1]);
});

test('a rollout started outside its change windows waits durably for the next one, then runs', async () => {
  const fleet = new FakeFleet(4, { liveVersion: 1 });
  const now = await timeSkipping.env.currentTimeMs();
  const opens = new Date(Math.ceil((now + 3 * 3_600_000) / 3_600_000) * 3_600_000);
  const window: ChangeWindow = {
    days: [WEEKDAYS[opens.getUTCDay()]!],
    startHour: opens.getUTCHours(),
    endHour: opens.getUTCHours() + 1,
  };
  fleet.gates = { changeWindows: [window] };
  const { waiting, result, finishedAt } = await withRollout(
    fleet,
    request({ bakeSeconds: 60 }),
    async (handle) => {
      const held = await until(handle, (p) => p.state === 'PAUSED');
      expect(fleet.pushes).toEqual([]);
      return {
        waiting: held,
        result: await handle.result(),
        finishedAt: await timeSkipping.env.currentTimeMs(),
      };
    },
  );
  expect(waiting.hold).toEqual({ gate: 'change-window', until: opens.toISOString() });
  expect(result).toMatchObject({ state: 'SUCCEEDED', updatedInstances: 4 });
  expect(finishedAt).toBeGreaterThanOrEqual(opens.getTime());
  expect(fleet.heldVersions()).toEqual([2, 2, 2, 2]);
});

test('a one-wave rollout with no freeze reads no gate of its own: the prepare brought it; no extra marker or timer', async () => {
  const fleet = new FakeFleet(4, { liveVersion: 1 });
  const history = await withRollout(
    fleet,
    request({ strategy: { kind: 'explicit', waves: ['100%'] }, bakeSeconds: 0 }),
    async (handle) => {
      await handle.result();
      return handle.fetchHistory();
    },
  );
  expect(fleet.gateReads).toBe(0);
  expect(history.events!.filter((event) => event.timerStartedEventAttributes)).toEqual([]);
  const localCalls = history.events!.filter(
    (event) => event.markerRecordedEventAttributes?.markerName === 'core_local_activity',
  );
  expect(localCalls.length).toBe(2);
});

test('a rollout recorded held by a freeze (lost signals both ways) replays with the current code', async () => {
  // Recorded in the clear from the lost-signal test above: canary, bake, held at wave 1, a recheck found
  // the freeze lifted, last wave.
  const recorded = recordedHistory('rollout-held-by-freeze.json');
  const markers = recorded.events.filter(
    (event) => event.markerRecordedEventAttributes?.markerName === 'core_local_activity',
  );
  expect(markers.length).toBeGreaterThanOrEqual(4);
  await expectReplays(timeSkipping.bundle, recorded, plain);
});

/** The progress the rollout last published in its memo, from its history. */
async function lastProgress(history: temporal.api.history.v1.IHistory): Promise<RolloutProgress> {
  const modified = history.events!.filter((event) => event.workflowPropertiesModifiedEventAttributes);
  const payload = modified.at(-1)!.workflowPropertiesModifiedEventAttributes!.upsertedMemo!.fields!.progress!;
  return JSON.parse(Buffer.from(payload.data!).toString('utf8')) as RolloutProgress;
}
