/**
 * npm run stack -- up [--examples] | down [component...] | reset | status | env
 * Starts, stops and shows the local stack (scripts/stack/); `down` and `up` keep its data, `reset`
 * stops it and deletes its data; `env` prints the variables that point a shell at it
 * (`eval "$(npm run -s stack -- env)"`). Exits non-zero on failure.
 */
import {
  dataDir,
  localStackEnv,
  StackError,
  stackDown,
  stackReset,
  stackStatus,
  stackUp,
  PORTS,
  prometheusUrl,
  resolvePort,
  STACK_HOST,
  temporalUiUrl,
  traceQueryUrl,
  type ComponentStatus,
} from './stack/index';

const USAGE = 'usage: npm run stack -- up [--examples] | down [component...] | reset | status | env';

async function main([verb, ...names]: string[]): Promise<void> {
  switch (verb) {
    case 'up':
      await stackUp({
        tiers: names.includes('--examples')
          ? ['infrastructure', 'application', 'example']
          : ['infrastructure', 'application'],
      });
      printUrls();
      return;
    case 'down':
      await stackDown(names);
      return;
    case 'reset':
      await stackReset();
      return;
    case 'status':
      const statuses = await stackStatus();
      console.log(statusTable(statuses));
      for (const { name, port, holder } of statuses)
        if (holder !== undefined) console.log(`${name}: port ${port} is held by ${holder}`);
      printUrls();
      console.log(`Data kept across restarts: ${dataDir()} (\`npm run stack -- reset\` deletes it)`);
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
    ['component', 'port', 'state', 'pid', 'data'],
    ...statuses.map((s) => [
      s.name,
      String(s.port),
      s.state,
      s.pid === undefined ? '-' : String(s.pid),
      s.stateFile ?? '-',
    ]),
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

/** Where a person looks at the stack: printed after `up` and by `status`. */
function printUrls(): void {
  console.log(`Web console: http://${STACK_HOST}:${resolvePort(PORTS.configHttp)}/console/`);
  console.log(`Temporal UI: ${temporalUiUrl()}`);
  console.log(`Prometheus: ${prometheusUrl()} (targets: ${prometheusUrl()}/classic/targets)`);
  console.log(
    `Traces (Jaeger query API): ${traceQueryUrl()}/api/traces (npx tsx scripts/show-trace.ts <id>)`,
  );
}
