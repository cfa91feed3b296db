import type { Command } from 'commander';
import { configPath } from '../apiPaths';
import type { ConfigEntry, ConfigHistoryEntry } from '../../common/api/configs';
import type { Items, Page } from '../../common/api/lists';
import { apiClientFor, globalOptionsOf } from '../globalOptions';
import { configKey, positiveInteger, serviceName } from '../optionParsers';
import { printResult } from '../output';
import { formatConfigEntry, formatConfigHistory, formatConfigList } from '../render/configViews';

/** `cfgctl config get|list|history`: reads of the caller's tenant's configuration. */
export function addConfigCommands(program: Command): void {
  const config = program.command('config').description("read the caller's tenant's configuration");

  config
    .command('get')
    .description('the live (or a given) version of a key')
    .argument('<key>', 'the config key', configKey)
    .option('--service <name>', 'the consuming service (required for param_config_ keys)', serviceName)
    .option('--version <n>', 'a specific version', positiveInteger)
    .action(async (key: string, options: { service?: string; version?: number }, command: Command) => {
      const global = globalOptionsOf(command);
      const entry = await apiClientFor(global).get<ConfigEntry>(configPath(key), {
        service: options.service,
        version: options.version?.toString(),
      });
      printResult(global.json, entry, () => formatConfigEntry(entry));
    });

  config
    .command('list')
    .description("the tenant's keys with their live versions")
    .option('--service <name>', 'only this service (per-service keys)', serviceName)
    .action(async (options: { service?: string }, command: Command) => {
      const global = globalOptionsOf(command);
      const { items } = await apiClientFor(global).get<Items<ConfigEntry>>('/v1/configs', {
        service: options.service,
      });
      // The items alone, as this command always printed them; scripts rely on it.
      printResult(global.json, items, () => formatConfigList(items));
    });

  config
    .command('history')
    .description('every kept version of a key, newest first, the live one marked')
    .argument('<key>', 'the config key', configKey)
    .option('--service <name>', 'the consuming service (required for param_config_ keys)', serviceName)
    .action(async (key: string, options: { service?: string }, command: Command) => {
      const global = globalOptionsOf(command);
      const client = apiClientFor(global);
      const items: ConfigHistoryEntry[] = [];
      let pageToken: string | undefined;
      do {
        const page = await client.get<Page<ConfigHistoryEntry>>(`${configPath(key)}/history`, {
          service: options.service,
          pageToken,
        });
        items.push(...page.items);
        pageToken = page.nextPageToken;
      } while (pageToken);
      const history = { items };
      printResult(global.json, history, () => formatConfigHistory(history.items));
    });
}
