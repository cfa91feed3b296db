import type { ConfigEntry, ConfigHistoryEntry } from '../../common/api/configs';
import { formatTable, shorten } from './table';

/** Human output of the config commands. */

const VALUE_WIDTH = 60;

export function formatConfigEntry(entry: ConfigEntry): string {
  return `${entry.key}${entry.service ? ` (${entry.service})` : ''} v${entry.version}\n${entry.value}`;
}

export function formatConfigList(entries: readonly ConfigEntry[]): string {
  if (entries.length === 0) return '(no configuration)';
  return formatTable(
    ['KEY', 'SERVICE', 'VERSION', 'VALUE'],
    entries.map((e) => [e.key, e.service ?? '-', `v${e.version}`, e.value]),
  );
}

/** Newest first, as the API lists them; the live version is the one cache-miss reads get. */
export function formatConfigHistory(versions: readonly ConfigHistoryEntry[]): string {
  if (versions.length === 0) return '(no versions)';
  return formatTable(
    ['VERSION', 'LIVE', 'UPDATED', 'WRITTEN BY', 'VALUE'],
    versions.map((v) => [
      `v${v.version}`,
      v.live ? 'live' : '',
      v.updatedAt,
      `${v.writtenBy ?? '-'}${v.copyOf ? ` (copy of v${v.copyOf})` : ''}`,
      shorten(v.value, VALUE_WIDTH),
    ]),
  );
}
