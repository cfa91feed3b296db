import type { ConfigHistoryEntry, ConfigHistoryPage } from '../../../common/api/configs';
import { api, ApiProblem, path } from '../api';
import { diffText, lineDiff } from '../diff';
import { el, replaceChildren } from '../dom';
import { searchForm, type ViewContext } from './shared';

/** A key's kept versions (the newest page) and a line diff between any two of them. */
export async function showHistory(context: ViewContext, key: string | undefined): Promise<void> {
  const keyInput = el('input', {
    id: 'history-key',
    name: 'key',
    value: key ?? '',
    required: true,
    autocomplete: 'off',
  });
  const form = searchForm({
    name: 'Find a key',
    field: keyInput,
    label: 'Key',
    button: 'Show history',
    target: (value) => `#/history/${encodeURIComponent(value)}`,
  });
  const results = el('div', { id: 'history' });
  replaceChildren(context.main, el('h1', { tabindex: '-1' }, 'Key history'), form, results);
  if (!key) return;

  let versions: readonly ConfigHistoryEntry[];
  try {
    versions = (await api<ConfigHistoryPage>('GET', path`/v1/configs/${key}/history` + '?pageSize=50')).items;
  } catch (error) {
    if (!(error instanceof ApiProblem)) throw error;
    replaceChildren(results, el('p', { class: 'problem' }, error.message));
    return;
  }
  if (versions.length === 0) {
    replaceChildren(results, el('p', {}, 'No versions.'));
    return;
  }
  const pick = (id: string, label: string, selected: number) => {
    const select = el(
      'select',
      { id, name: id },
      ...versions.map((v) =>
        el('option', { value: String(v.version), selected: v.version === selected }, versionLabel(v)),
      ),
    );
    return { select, field: el('p', {}, el('label', { for: id }, label), select) };
  };
  const newest = versions[0]?.version ?? 0;
  const older = pick('diff-from', 'From version', versions[1]?.version ?? newest);
  const newer = pick('diff-to', 'To version', newest);
  const diff = el('div', { id: 'diff', 'aria-live': 'polite' });
  const draw = () => {
    const from = versions.find((v) => String(v.version) === older.select.value);
    const to = versions.find((v) => String(v.version) === newer.select.value);
    if (from && to) replaceChildren(diff, diffView(from, to));
  };
  older.select.addEventListener('change', draw);
  newer.select.addEventListener('change', draw);
  replaceChildren(
    results,
    el('h2', {}, 'Versions'),
    versionTable(versions),
    el('h2', {}, 'Compare'),
    el('div', { class: 'compare' }, older.field, newer.field),
    diff,
  );
  draw();
}

function versionLabel(version: ConfigHistoryEntry): string {
  return `v${version.version}${version.live ? ' (live)' : ''}`;
}

function versionTable(versions: readonly ConfigHistoryEntry[]): HTMLElement {
  return el(
    'table',
    {},
    el('caption', {}, `${versions.length} version(s), newest first`),
    el(
      'thead',
      {},
      el('tr', {}, ...['Version', 'Written', 'By', 'Value'].map((h) => el('th', { scope: 'col' }, h))),
    ),
    el(
      'tbody',
      {},
      ...versions.map((v) =>
        el(
          'tr',
          {},
          el('td', {}, versionLabel(v), v.copyOf ? ` (copy of v${v.copyOf})` : ''),
          el('td', {}, el('time', { datetime: v.updatedAt }, v.updatedAt)),
          el('td', {}, v.writtenBy ?? '—'),
          el('td', {}, el('code', { class: 'value' }, v.value)),
        ),
      ),
    ),
  );
}

function diffView(from: ConfigHistoryEntry, to: ConfigHistoryEntry): HTMLElement {
  const lines = lineDiff(diffText(from.value), diffText(to.value));
  if (!lines) return el('p', {}, 'These versions are too large to compare here: use cfgctl.');
  const changed = lines.filter((line) => line.kind !== 'same').length;
  return el(
    'figure',
    {},
    el('figcaption', {}, `v${from.version} → v${to.version}: ${changed} line(s) changed`),
    el(
      'pre',
      { class: 'diff', tabindex: '0', 'aria-label': `Differences from v${from.version} to v${to.version}` },
      ...lines.map((line) =>
        el(
          line.kind === 'added' ? 'ins' : line.kind === 'removed' ? 'del' : 'span',
          { class: `line ${line.kind}` },
          `${line.kind === 'added' ? '+ ' : line.kind === 'removed' ? '- ' : '  '}${line.text}\n`,
        ),
      ),
    ),
  );
}
