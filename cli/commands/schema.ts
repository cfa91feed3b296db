import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { schemaPath } from '../apiPaths';
import type { Items } from '../../common/api/lists';
import type { ValueSchema } from '../../common/api/schemas';
import { apiClientFor, globalOptionsOf } from '../globalOptions';
import { configKey, integerFrom } from '../optionParsers';
import { printResult } from '../output';
import { formatSchema, formatSchemaList } from '../render/schemaViews';
import { UsageError } from '../usageError';

/** `cfgctl schema get|set|delete|list`: the JSON Schemas that a tenant's new values must match. */
export function addSchemaCommands(program: Command): void {
  const schema = program
    .command('schema')
    .description('the JSON Schemas new values and rollouts of a key must match');

  schema
    .command('list')
    .description("the tenant's keys that have a schema")
    .action(async (_options: object, command: Command) => {
      const global = globalOptionsOf(command);
      const { items } = await apiClientFor(global).get<Items<ValueSchema>>('/v1/schemas');
      printResult(global.json, items, () => formatSchemaList(items));
    });

  schema
    .command('get')
    .description("a key's schema")
    .argument('<key>', 'the config key', configKey)
    .action(async (key: string, _options: object, command: Command) => {
      const global = globalOptionsOf(command);
      const stored = await apiClientFor(global).get<ValueSchema>(schemaPath(key));
      printResult(global.json, stored, () => formatSchema(stored));
    });

  schema
    .command('set')
    .description("set a key's schema (JSON Schema 2020-12, or draft-07 by its $schema)")
    .argument('<key>', 'the config key', configKey)
    .requiredOption('--file <path>', 'the schema, a JSON file (- for standard input)')
    .option(
      '--expected-version <n>',
      'refuse if the schema is no longer at this version (0: none yet)',
      integerFrom(0, Number.MAX_SAFE_INTEGER),
    )
    .action(async (key: string, options: { file: string; expectedVersion?: number }, command: Command) => {
      const global = globalOptionsOf(command);
      const stored = await apiClientFor(global).put<ValueSchema>(schemaPath(key), {
        schema: readSchemaFile(options.file),
        ...(options.expectedVersion !== undefined ? { expectedVersion: options.expectedVersion } : {}),
      });
      printResult(global.json, stored, () => `${stored.key}: schema v${stored.version} set`);
    });

  schema
    .command('delete')
    .description("remove a key's schema")
    .argument('<key>', 'the config key', configKey)
    .action(async (key: string, _options: object, command: Command) => {
      const global = globalOptionsOf(command);
      await apiClientFor(global).delete(schemaPath(key));
      printResult(global.json, { key, deleted: true }, () => `${key}: schema removed`);
    });
}

function readSchemaFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (error) {
    throw new UsageError(`--file: cannot read ${path}: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(`--file: ${path} is not JSON: ${(error as Error).message}`);
  }
}
