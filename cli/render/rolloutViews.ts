import type { Rollout, RolloutPage, TimelineEntry } from '../../common/api/rollouts';
import { progressLines } from './progress';
import { formatTable } from './table';

/** Human output of the rollout commands that print once. */

/** `rollout status`: the progress with its bars, then who did what. */
export function formatRolloutStatus(rollout: Rollout): string {
  const lines = progressLines(rollout, { bars: true }).map(({ text }) => text);
  if (rollout.audit.length > 0) {
    lines.push(
      'audit',
      ...formatTable(
        ['  AT', 'ACTION', 'ACTOR', 'REASON'],
        rollout.audit.map((entry) => [`  ${entry.at}`, entry.action, entry.actor, entry.reason ?? '']),
      ).split('\n'),
    );
  }
  return lines.join('\n');
}

export function formatRolloutList(page: RolloutPage): string {
  const table =
    page.items.length === 0
      ? '(no rollouts)'
      : formatTable(
          ['ROLLOUT ID', 'KEY', 'STATE', 'STARTED', 'CLOSED'],
          page.items.map((r) => [
            r.rolloutId,
            r.service ? `${r.key} (${r.service})` : r.key,
            r.state,
            r.startedAt,
            r.closedAt ?? '-',
          ]),
        );
  return page.nextPageToken ? `${table}\nnext page: --page-token ${page.nextPageToken}` : table;
}

/** `rollout history`: oldest first, as the API lists it. */
export function formatTimeline(entries: readonly TimelineEntry[]): string {
  if (entries.length === 0) return '(no history yet)';
  return formatTable(
    ['TIME', 'KIND', 'SUMMARY', 'ACTOR'],
    entries.map((e) => [e.at, e.kind, e.summary, e.actor ?? '-']),
  );
}
