import type { Rollout } from '../../../common/api/rollouts';
import {
  ChangedLinesDisplay,
  JsonLinesDisplay,
  progressDisplayFor,
  RedrawingDisplay,
  type TextOutput,
} from '../../../cli/render/liveProgress';
import { bar, progressLines } from '../../../cli/render/progress';

const ID = '0b5c3a1e-8a6f-4e0b-9d39-3c1f0a7e9b21~tenant_config_flags';

/** A 4-instance rollout in three waves (1, 2, 4 instances cumulative), at the point `stage` says. */
function rollout(stage: 'canary' | 'approval' | 'second wave' | 'done'): Rollout {
  const wave = (
    index: number,
    target: number,
    updated: number,
    state: Rollout['waves'][number]['state'],
  ) => ({
    index,
    targetInstances: target,
    updated,
    failed: 0,
    state,
  });
  const waves = {
    canary: [wave(0, 1, 0, 'pushing'), wave(1, 2, 0, 'pending'), wave(2, 4, 0, 'pending')],
    approval: [wave(0, 1, 1, 'awaiting-approval'), wave(1, 2, 0, 'pending'), wave(2, 4, 0, 'pending')],
    'second wave': [wave(0, 1, 1, 'done'), wave(1, 2, 1, 'baking'), wave(2, 4, 0, 'pending')],
    done: [wave(0, 1, 1, 'done'), wave(1, 2, 1, 'done'), wave(2, 4, 2, 'done')],
  }[stage];
  const updated = waves.reduce((sum, w) => sum + w.updated, 0);
  const state = {
    canary: 'ROLLING_OUT',
    approval: 'AWAITING_APPROVAL',
    'second wave': 'BAKING',
    done: 'SUCCEEDED',
  } as const;
  return {
    rolloutId: ID,
    workflowId: 'rollout:acme:-:tenant_config_flags',
    state: state[stage],
    key: 'tenant_config_flags',
    candidateVersion: 2,
    previousVersion: 1,
    currentWave: 0,
    paused: false,
    waves,
    instances: { total: 4, updated, failed: 0, pending: 4 - updated, reverted: 0 },
    failedInstances: [],
    audit: [{ at: '2025-01-01T00:00:00.000Z', actor: 'alice', action: 'start' }],
    ...(stage === 'done' ? { outcome: 'version 2 is live on 4 of 4 instances' } : {}),
  };
}

function recorder(tty: { isTTY: boolean; columns?: number }): TextOutput & { text: () => string } {
  const writes: string[] = [];
  return { ...tty, write: (text: string) => writes.push(text), text: () => writes.join('') };
}

test('not a terminal: each line is printed when it changes, and only then', () => {
  const out = recorder({ isTTY: false });
  const display = progressDisplayFor(out, false);
  expect(display).toBeInstanceOf(ChangedLinesDisplay);
  display.show(rollout('canary'));
  display.show(rollout('canary'));
  display.show(rollout('approval'));
  display.show(rollout('second wave'));
  display.show(rollout('done'));
  expect(out.text().split('\n')).toEqual([
    `tenant_config_flags  v1 → v2  rollout ${ID}`,
    'state ROLLING_OUT  instances 0/4 updated, 0 failed, 4 pending',
    'wave 1/3  0/1 updated, 0 failed  pushing',
    'wave 2/3  0/1 updated, 0 failed  pending',
    'wave 3/3  0/2 updated, 0 failed  pending',
    'state AWAITING_APPROVAL  instances 1/4 updated, 0 failed, 3 pending',
    'wave 1/3  1/1 updated, 0 failed  awaiting-approval',
    'state BAKING  instances 2/4 updated, 0 failed, 2 pending',
    'wave 1/3  1/1 updated, 0 failed  done',
    'wave 2/3  1/1 updated, 0 failed  baking',
    'state SUCCEEDED  instances 4/4 updated, 0 failed, 0 pending',
    'wave 2/3  1/1 updated, 0 failed  done',
    'wave 3/3  2/2 updated, 0 failed  done',
    'outcome version 2 is live on 4 of 4 instances',
    '',
  ]);
});

test('not a terminal: a failed instance is printed once, when it first fails', () => {
  const out = recorder({ isTTY: false });
  const display = new ChangedLinesDisplay(out);
  const failing = {
    ...rollout('canary'),
    state: 'ROLLING_BACK' as const,
    failedInstances: [{ instanceId: 'orders/i-1', reason: 'UNAVAILABLE after 3 attempts' }],
  };
  display.show(rollout('canary'));
  display.show(failing);
  display.show({ ...failing, state: 'ROLLED_BACK' });
  expect(
    out
      .text()
      .split('\n')
      .filter((line) => line.startsWith('failed')),
  ).toEqual(['failed orders/i-1: UNAVAILABLE after 3 attempts']);
  expect(out.text()).toContain('state ROLLED_BACK');
});

test('a terminal: the block is redrawn in place, with one bar per wave', () => {
  const out = recorder({ isTTY: true, columns: 120 });
  const display = progressDisplayFor(out, false);
  expect(display).toBeInstanceOf(RedrawingDisplay);
  display.show(rollout('canary'));
  const first = out.text();
  expect(first).not.toContain('\x1b[');
  expect(first).toContain(`wave 1/3  ${bar(0, 0, 1)}  0/1 updated, 0 failed  pushing`);
  const lines = first.split('\n').length - 1;

  display.show(rollout('canary'));
  expect(out.text()).toBe(first);

  display.show(rollout('approval'));
  const redraw = out.text().slice(first.length);
  // Up over the previous block, back to column 1, clear below, then the new block.
  expect(redraw.startsWith(`\x1b[${lines}A\r\x1b[0J`)).toBe(true);
  expect(redraw).toContain(`wave 1/3  ${bar(1, 0, 1)}  1/1 updated, 0 failed  awaiting-approval`);
});

test('a terminal: lines are cut to its width so none wraps and the redraw stays aligned', () => {
  const out = recorder({ isTTY: true, columns: 40 });
  new RedrawingDisplay(out).show(rollout('done'));
  for (const line of out.text().split('\n')) expect(line.length).toBeLessThan(40);
  expect(out.text()).toContain('…');
});

test('--json: one JSON object per progress event, a line each', () => {
  const out = recorder({ isTTY: true });
  const display = progressDisplayFor(out, true);
  expect(display).toBeInstanceOf(JsonLinesDisplay);
  display.show(rollout('canary'));
  display.show(rollout('done'));
  const lines = out.text().trimEnd().split('\n');
  expect(lines.map((line) => (JSON.parse(line) as Rollout).state)).toEqual(['ROLLING_OUT', 'SUCCEEDED']);
});

test('bars show updated, failed and not yet reached instances in proportion', () => {
  expect(bar(0, 0, 4)).toBe(`[${'░'.repeat(20)}]`);
  expect(bar(2, 1, 4)).toBe(`[${'█'.repeat(10)}${'×'.repeat(5)}${'░'.repeat(5)}]`);
  expect(bar(4, 0, 4)).toBe(`[${'█'.repeat(20)}]`);
  expect(bar(0, 0, 0)).toBe(`[${'░'.repeat(20)}]`);
});

test('a rolled-back rollout counts its reverted instances as reverted, not pending', () => {
  const rolledBack: Rollout = {
    ...rollout('second wave'),
    state: 'ROLLED_BACK',
    instances: { total: 4, updated: 0, failed: 1, pending: 2, reverted: 2 },
    failedInstances: [{ instanceId: 'orders/i-2', reason: 'reports NOT_SERVING' }],
  };
  expect(progressLines(rolledBack, { bars: false }).find((line) => line.id === 'state')?.text).toBe(
    'state ROLLED_BACK  instances 0/4 updated, 1 failed, 2 pending, 2 reverted',
  );
});

test('while an approval is awaited the status says when it is due, and not once the rollout has moved on', () => {
  const deadline = '2026-12-02T08:00:00.000Z';
  const lines = (stage: 'approval' | 'second wave') =>
    progressLines({ ...rollout(stage), approvalDeadline: deadline }, { bars: false });
  expect(lines('approval')).toContainEqual({
    id: 'deadline',
    text: `approval due by ${deadline}: unapproved then, it rolls back`,
  });
  expect(lines('second wave').map((line) => line.id)).not.toContain('deadline');
});
