import type { RolloutPage } from '../../../common/api/rollouts';
import { api, ApiProblem } from '../api';
import { el, replaceChildren } from '../dom';
import { type RolloutState, searchForm, STATE_LABELS, stateBadge, type ViewContext } from './shared';

/** The tenant's rollouts, newest first, filtered by state through the API's own `state` parameter. */
export async function showRollouts(context: ViewContext, state: string | undefined): Promise<void> {
  const filter = el(
    'select',
    { id: 'state-filter', name: 'state' },
    el('option', { value: '' }, 'Any state'),
    ...(Object.keys(STATE_LABELS) as RolloutState[]).map((value) =>
      el('option', { value, selected: value === state }, STATE_LABELS[value]),
    ),
  );
  const form = searchForm({
    name: 'Filter rollouts',
    field: filter,
    label: 'State',
    button: 'Filter',
    target: (value) => (value ? `#/rollouts?state=${encodeURIComponent(value)}` : '#/rollouts'),
  });
  const results = el('div', { id: 'rollout-results' }, el('p', { class: 'loading' }, 'Loading…'));
  replaceChildren(context.main, el('h1', { tabindex: '-1' }, 'Rollouts'), form, results);

  try {
    const query = state ? `?state=${encodeURIComponent(state)}&pageSize=50` : '?pageSize=50';
    const page = await api<RolloutPage>('GET', `/v1/rollouts${query}`);
    replaceChildren(results, page.items.length === 0 ? el('p', {}, 'No rollouts.') : rolloutTable(page));
  } catch (error) {
    if (!(error instanceof ApiProblem)) throw error;
    replaceChildren(results, el('p', { class: 'problem' }, error.message));
  }
}

function rolloutTable(page: RolloutPage): HTMLElement {
  return el(
    'table',
    {},
    el('caption', {}, `${page.items.length} rollout(s)`),
    el(
      'thead',
      {},
      el(
        'tr',
        {},
        ...['Key', 'Service', 'State', 'Started', 'Finished'].map((h) => el('th', { scope: 'col' }, h)),
      ),
    ),
    el(
      'tbody',
      {},
      ...page.items.map((rollout) =>
        el(
          'tr',
          { 'data-rollout-id': rollout.rolloutId },
          el('td', {}, el('a', { href: `#/rollouts/${encodeURIComponent(rollout.rolloutId)}` }, rollout.key)),
          el('td', {}, rollout.service ?? '—'),
          el('td', {}, stateBadge(rollout.state)),
          el('td', {}, el('time', { datetime: rollout.startedAt }, rollout.startedAt)),
          el('td', {}, rollout.closedAt ? el('time', { datetime: rollout.closedAt }, rollout.closedAt) : '—'),
        ),
      ),
    ),
  );
}
