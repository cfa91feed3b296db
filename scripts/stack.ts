/**
 * npm run stack -- up [--examples] | down [component...] | status | env
 * Starts, stops and shows the local stack (scripts/stack/); `env` prints the variables that point a
 * shell at it (`eval "$(npm run -s stack -- env)"`). Exits non-zero on failure.
 */
import {
  localStackEnv,
  StackError,
  stackDown,
  stackStatus,
  stackUp,
  temporalUiUrl,
  type ComponentStatus,
} from './stack/index';

const USAGE = 'usage: npm run stack -- up [--examples] | down [component...] | status | env';

async function main([verb, ...names]: string[]): Promise<void> {
  switch (verb) {
    case 'up':
      await stackUp({
        tiers: names.includes('--examples')
          ? ['infrastructure', 'application', 'example']
          : ['infrastructure', 'application'],
      });
      console.log(`Temporal UI: ${temporalUiUrl()}`);
      return;
    case 'down':
      await stackDown(names);
      return;
    case 'status':
      console.log(statusTable(await stackStatus()));
      console.log(`Temporal UI: ${temporalUiUrl()}`);
      return;
    case 'env':
      for (const [name, value] of Object.entries(localStackEnv())) console.log(`export ${name}='${value}'`);
      return;
    default:
      throw new StackError(USAGE);
  }
}

function statusTable(statuses: ComponentStatus[]): string {
  const rows = [
    ['component', 'port', 'state', 'pid'],
    ...statuses.map((s) => [s.name, String(s.port), s.state, s.pid === undefined ? '-' : String(s.pid)]),
  ];
  const width = (column: number) => Math.max(...rows.map((row) => row[column]?.length ?? 0));
  return rows
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(width(column)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(error instanceof StackError ? error.message : error);
  process.exitCode = 1;
});
