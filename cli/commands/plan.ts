import type { Command } from 'commander';
import { rolloutPlanPath } from '../apiPaths';
import type { Items } from '../../common/api/lists';
import type { RolloutPlanEntry } from '../../common/api/plans';
import { apiClientFor, globalOptionsOf } from '../globalOptions';
import { planSelector, serviceName } from '../optionParsers';
import { type PlanOptions, planOf, withPlanOptions } from '../planOptions';
import { printResult } from '../output';
import { formatPlanEntry, formatPlanList } from '../render/planViews';

interface ScopeOptions {
  readonly service?: string;
}

/**
 * `cfgctl plan set|get|list|delete`: the plans out-of-band Parameter Store edits roll out with, per key
 * or key prefix (`param_config_flag_*`), optionally per service.
 */
export function addPlanCommands(program: Command): void {
  const plan = program
    .command('plan')
    .description('the plans out-of-band Parameter Store edits of a key (or key prefix*) roll out with');
  const scoped = (command: Command) =>
    command
      .argument('<selector>', 'a param_config_ key, or a key prefix ending in * (quote it)', planSelector)
      .option('--service <name>', "only this service's edits (default: every service)", serviceName);

  plan
    .command('list')
    .description("the tenant's plans")
    .action(async (_options: object, command: Command) => {
      const global = globalOptionsOf(command);
      const { items } = await apiClientFor(global).get<Items<RolloutPlanEntry>>('/v1/rollout-plans');
      printResult(global.json, items, () => formatPlanList(items));
    });

  scoped(plan.command('get').description("a selector's plan")).action(
    async (selector: string, options: ScopeOptions, command: Command) => {
      const global = globalOptionsOf(command);
      const entry = await apiClientFor(global).get<RolloutPlanEntry>(rolloutPlanPath(selector), {
        service: options.service,
      });
      printResult(global.json, entry, () => formatPlanEntry(entry));
    },
  );

  withPlanOptions(
    scoped(
      plan
        .command('set')
        .description(
          'set a selector\'s plan, with the options of "rollout start" (omitted: waves 1,50%,100%, bake 30, no approval, 0 failures)',
        ),
    ),
  ).action(async (selector: string, options: ScopeOptions & PlanOptions, command: Command) => {
    const global = globalOptionsOf(command);
    const entry = await apiClientFor(global).put<RolloutPlanEntry>(
      withService(rolloutPlanPath(selector), options.service),
      { plan: planOf(options) },
    );
    printResult(global.json, entry, () => formatPlanEntry(entry));
  });

  scoped(plan.command('delete').description("remove a selector's plan")).action(
    async (selector: string, options: ScopeOptions, command: Command) => {
      const global = globalOptionsOf(command);
      await apiClientFor(global).delete(withService(rolloutPlanPath(selector), options.service));
      const deleted = { selector, ...(options.service ? { service: options.service } : {}), deleted: true };
      printResult(global.json, deleted, () => `${selector}: plan removed`);
    },
  );
}

/** PUT and DELETE take no query object in the API client: the service goes in the path's query. */
function withService(path: string, service: string | undefined): string {
  return service ? `${path}?service=${encodeURIComponent(service)}` : path;
}
