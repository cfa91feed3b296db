import type { WaveProgress } from '../../common/rollout';
import type { Rollout } from '../../common/api/rollouts';

/**
 * A rollout's progress as lines of text, each with a stable id (the header, the state, each wave, each
 * failed instance), so a display can redraw them all or print only those whose text changed.
 */
export interface ProgressLine {
  readonly id: string;
  readonly text: string;
}

const BAR_WIDTH = 20;

export function progressLines(rollout: Rollout, style: { readonly bars: boolean }): ProgressLine[] {
  const { instances } = rollout;
  const lines: ProgressLine[] = [
    // What changes first: a narrow terminal cuts the long id, not the key and versions.
    { id: 'header', text: `${subject(rollout)}  rollout ${rollout.rolloutId}` },
    {
      id: 'state',
      text:
        `state ${rollout.state}${rollout.paused ? ' (paused)' : ''}  ` +
        `instances ${instances.updated}/${instances.total} updated, ${instances.failed} failed, ${instances.pending} pending` +
        (instances.reverted > 0 ? `, ${instances.reverted} reverted` : ''),
    },
  ];
  rollout.waves.forEach((wave, i) => {
    // Wave targets are cumulative; a wave's own instances are what it adds to the one before.
    const size = wave.targetInstances - (rollout.waves[i - 1]?.targetInstances ?? 0);
    lines.push({ id: `wave:${wave.index}`, text: waveLine(wave, size, rollout.waves.length, style.bars) });
    if (wave.canary) lines.push({ id: `canary:${wave.index}`, text: `  canary ${wave.canary.summary}` });
  });
  for (const failed of rollout.failedInstances ?? []) {
    lines.push({ id: `failed:${failed.instanceId}`, text: `failed ${failed.instanceId}: ${failed.reason}` });
  }
  // Freezes and change windows.
  if (rollout.hold) lines.push({ id: 'hold', text: holdLine(rollout.hold) });
  if (rollout.approvalDeadline && rollout.state === 'AWAITING_APPROVAL') {
    lines.push({
      id: 'deadline',
      text: `approval due by ${rollout.approvalDeadline}: unapproved then, it rolls back`,
    });
  }
  if (rollout.outcome) lines.push({ id: 'outcome', text: `outcome ${rollout.outcome}` });
  if (rollout.staleSince) {
    lines.push({
      id: 'stale',
      text: `stale since ${rollout.staleSince}: no rollout worker answered; this is the progress it last published`,
    });
  }
  return lines;
}

/** The key (and service) and, once the candidate is written, the version change: `flags  v1 → v2`. */
function subject(rollout: Rollout): string {
  const key = `${rollout.key}${rollout.service ? ` (${rollout.service})` : ''}`;
  if (rollout.candidateVersion === undefined) return key;
  const from = rollout.previousVersion !== undefined ? `v${rollout.previousVersion}` : 'new key';
  const copy = rollout.copyOf !== undefined ? ` (a copy of v${rollout.copyOf})` : '';
  return `${key}  ${from} → v${rollout.candidateVersion}${copy}`;
}

function waveLine(wave: WaveProgress, size: number, waveCount: number, bars: boolean): string {
  const label = `wave ${wave.index + 1}/${waveCount}`;
  const counts = `${wave.updated}/${size} updated, ${wave.failed} failed`;
  return [label, ...(bars ? [bar(wave.updated, wave.failed, size)] : []), counts, wave.state].join('  ');
}

/** `[████××░░░░]`: updated, failed and not yet reached, in proportion to the wave's size. */
export function bar(updated: number, failed: number, size: number): string {
  const cells = (count: number) => (size > 0 ? Math.round((count / size) * BAR_WIDTH) : 0);
  const done = Math.min(BAR_WIDTH, cells(updated));
  const broken = Math.min(BAR_WIDTH - done, cells(failed));
  return `[${'█'.repeat(done)}${'×'.repeat(broken)}${'░'.repeat(BAR_WIDTH - done - broken)}]`;
}

/** What holds a rollout at a wave boundary: `held by a platform freeze (alice, at …): reason`. */
function holdLine(hold: NonNullable<Rollout['hold']>): string {
  return hold.gate === 'freeze'
    ? `held by a ${hold.scope} freeze (${hold.frozenBy}, at ${hold.frozenAt}): ${hold.reason}; resumes once lifted`
    : `held outside the change windows until ${hold.until} (UTC)`;
}
