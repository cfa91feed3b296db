import type { ValueSchema } from '../../common/api/schemas';
import { formatTable } from './table';

/** Human output of the schema commands. */

export function formatSchema(stored: ValueSchema): string {
  return `${stored.key} schema v${stored.version} (set by ${stored.updatedBy} at ${stored.updatedAt})\n${JSON.stringify(stored.schema, null, 2)}`;
}

export function formatSchemaList(schemas: readonly ValueSchema[]): string {
  if (schemas.length === 0) return '(no schemas)';
  return formatTable(
    ['KEY', 'VERSION', 'UPDATED', 'BY'],
    schemas.map((s) => [s.key, `v${s.version}`, s.updatedAt, s.updatedBy]),
  );
}
