import type { ValueSchema } from '../../../common/api/schemas';
import type { Items } from '../../../common/api/lists';
import { api, ApiProblem } from '../api';
import { el, replaceChildren } from '../dom';
import type { ViewContext } from './shared';

/** The JSON Schemas the tenant's values must match, read-only: they are changed with cfgctl. */
export async function showSchemas(context: ViewContext): Promise<void> {
  const results = el('div', { id: 'schemas' }, el('p', {}, 'Loading…'));
  replaceChildren(context.main, el('h1', { tabindex: '-1' }, 'Value schemas'), results);
  try {
    const { items } = await api<Items<ValueSchema>>('GET', '/v1/schemas');
    replaceChildren(
      results,
      items.length === 0
        ? el('p', {}, 'No schemas.')
        : el(
            'dl',
            { class: 'schemas' },
            ...items.flatMap((schema) => [
              el(
                'dt',
                {},
                el('code', {}, schema.key),
                ` v${schema.version} by ${schema.updatedBy}, ${schema.updatedAt}`,
              ),
              el('dd', {}, el('pre', { tabindex: '0' }, JSON.stringify(schema.schema, null, 2))),
            ]),
          ),
    );
  } catch (error) {
    if (!(error instanceof ApiProblem)) throw error;
    replaceChildren(results, el('p', { class: 'problem' }, error.message));
  }
}
