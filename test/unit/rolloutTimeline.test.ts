import { temporal } from '@temporalio/proto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loadTemporalSettings } from '../../common/settings';
import { payloadCodecFor } from '../../rolloutClient';
import { decodeHistoryEvents } from '../../server/rollouts/decodeHistory';
import { timelineOf } from '../../server/rollouts/timeline';

/** A recorded history (test/workflows/histories), opened with the local stack's payload key. */
async function recordedEvents(file: string) {
  const history = temporal.api.history.v1.History.fromObject(
    JSON.parse(readFileSync(path.join(__dirname, '..', 'workflows', 'histories', file), 'utf8')) as Record<
      string,
      unknown
    >,
  );
  return decodeHistoryEvents(history.events ?? [], [
    payloadCodecFor(loadTemporalSettings().payloadEncryption),
  ]);
}

test('a cancelled rollout’s timeline shows the cancellation, the revert retried after a pause, and why it rolled back', async () => {
  const timeline = timelineOf(await recordedEvents('rollout-cancelled-mid-bake.json'));
  expect(timeline.map(({ kind, summary }) => [kind, summary])).toEqual(
    expect.arrayContaining([
      ['bake', 'baking for 3600 s'],
      ['action', 'cancellation requested in Temporal: rolling back'],
      ['push', 'rolled back version 2 to version 1 to 1 instance(s): 0 ok, 1 failed'],
      ['wait', 'retrying the revert in 1 s: instance(s) did not confirm it'],
      ['push', 'rolled back version 2 to version 1 to 1 instance(s): 1 ok, 0 failed'],
    ]),
  );
  expect(timeline.at(-1)).toMatchObject({
    kind: 'finished',
    state: 'ROLLED_BACK',
    summary: 'rolled back: the workflow was cancelled while baking',
  });
});

test('a timeline shows who froze a rollout and why, its rechecks as waits rather than bakes, and its release', async () => {
  const timeline = timelineOf(await recordedEvents('rollout-held-by-freeze.json'));
  const entries = timeline.map(({ kind, summary }) => [kind, summary]);
  expect(entries).toEqual(
    expect.arrayContaining([
      ['bake', 'baking for 3600 s'],
      ['state', 'entered PAUSED'],
      ['action', 'held by a tenant freeze (rm-bob, 2026-12-01T10:00:00.000Z): INC-42: payments degraded'],
      ['wait', 'frozen: reading the freeze again in 60 s (or when it changes)'],
      ['action', 'no longer held: going on'],
    ]),
  );
  expect(entries.filter(([kind]) => kind === 'bake')).toHaveLength(2);
  expect(timeline.at(-1)).toMatchObject({ kind: 'finished', state: 'SUCCEEDED' });
});

test('a rollout whose approval timed out shows the wait with its deadline, then why it rolled back', async () => {
  const timeline = timelineOf(await recordedEvents('rollout-approval-timed-out.json'));
  const wait = timeline.find((entry) => entry.kind === 'wait');
  expect(wait?.summary).toMatch(/^waiting for approval until \S+Z \(7200 s\), then rolling back$/);
  expect(Date.parse(wait!.summary.split(' ')[4]!) - Date.parse(wait!.at)).toBe(7_200_000);
  expect(timeline.some((entry) => entry.kind === 'bake')).toBe(false);
  expect(timeline.at(-1)).toMatchObject({
    kind: 'finished',
    state: 'ROLLED_BACK',
    summary:
      "rolled back: approval timed out after 2h: wave 1 of 3 was not approved within the plan's bound (7200 s)",
  });
});
