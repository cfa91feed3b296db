import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { DEFAULT_PORTS, type Group } from '../common/constants';
import { isTenantId } from '../common/identifiers';
import { issueDevToken } from '../server/auth/localIssuer';
import { ApiClient, ApiError } from './apiClient';

/** Exit codes a script can act on. */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  unauthenticated: 3,
  forbidden: 4,
  notFound: 5,
  conflict: 6,
  unavailable: 7,
} as const;

/** A command's own check of its arguments failed (commander reports its parse errors itself). */
class UsageError extends Error {}

const GROUP_BY_ROLE: Record<string, Group> = {
  'release-manager': 'release-managers',
  operator: 'operators',
  service: 'services',
};

interface ConfigJson {
  key: string;
  service?: string;
  version: number;
  value: string;
  format: string;
  updatedAt: string;
}

function apiClient(options: { apiUrl: string; tokenFile?: string }): ApiClient {
  const token = options.tokenFile ? readFileSync(options.tokenFile, 'utf8').trim() : process.env.CFG_TOKEN;
  return new ApiClient(options.apiUrl, token || undefined);
}

function print(json: boolean, data: unknown, human: () => string): void {
  process.stdout.write(`${json ? JSON.stringify(data, null, 2) : human()}\n`);
}

function positiveInteger(value: string): string {
  if (!/^[1-9]\d*$/.test(value)) throw new InvalidArgumentError('must be a positive integer');
  return value;
}

function formatEntries(entries: ConfigJson[]): string {
  if (entries.length === 0) return '(no configuration)';
  const rows = entries.map((e) => [e.key, e.service ?? '-', `v${e.version}`, e.value]);
  const widths = [0, 1, 2].map((i) =>
    Math.max(...rows.map((r) => r[i]!.length), ['KEY', 'SERVICE', 'VERSION'][i]!.length),
  );
  const line = (r: string[]) => r.map((cell, i) => (i < 3 ? cell.padEnd(widths[i]!) : cell)).join('  ');
  return [line(['KEY', 'SERVICE', 'VERSION', 'VALUE']), ...rows.map(line)].join('\n');
}

export function buildProgram(): Command {
  const program = new Command('cfgctl')
    .description('Multi-tenant configuration and staged rollouts')
    .addOption(
      new Option('--api-url <url>', 'REST API base URL')
        .env('CFG_API_URL')
        .default(`http://127.0.0.1:${DEFAULT_PORTS.http}`),
    )
    .addOption(
      new Option('--token-file <path>', 'read the bearer token from a file (else $CFG_TOKEN)').env(
        'CFG_TOKEN_FILE',
      ),
    )
    .option('--json', 'machine-readable output', false)
    .exitOverride()
    .showHelpAfterError();

  program
    .command('dev-token')
    .description('print a token from the local issuer (local stack only)')
    .requiredOption('--tenant <id>', 'tenant id (the custom:tenantId claim)')
    .addOption(
      new Option('--role <role>', 'role, granted through its Cognito group')
        .choices(Object.keys(GROUP_BY_ROLE))
        .makeOptionMandatory(),
    )
    .option('--subject <sub>', 'the token subject (who acts, for audit)')
    .option('--ttl <seconds>', 'lifetime in seconds', positiveInteger, '3600')
    .addOption(
      new Option('--token-use <use>', 'Cognito token type').choices(['access', 'id']).default('access'),
    )
    .action(
      (options: {
        tenant: string;
        role: string;
        subject?: string;
        ttl: string;
        tokenUse: 'access' | 'id';
      }) => {
        if (!isTenantId(options.tenant)) {
          throw new UsageError('--tenant: use letters, digits, "_" or "-" (at most 64)');
        }
        const token = issueDevToken({
          tenantId: options.tenant,
          groups: [GROUP_BY_ROLE[options.role]!],
          subject: options.subject,
          ttlSeconds: Number(options.ttl),
          tokenUse: options.tokenUse,
        });
        process.stdout.write(`${token}\n`);
      },
    );

  const config = program.command('config').description("read the caller's tenant's configuration");
  config
    .command('get <key>')
    .description('the live (or a given) version of a key')
    .option('--service <name>', 'the consuming service (required for param_config_ keys)')
    .option('--version <n>', 'a specific version', positiveInteger)
    .action(async (key: string, options: { service?: string; version?: string }) => {
      const global = program.opts<{ apiUrl: string; tokenFile?: string; json: boolean }>();
      const entry = await apiClient(global).get<ConfigJson>(`/v1/configs/${encodeURIComponent(key)}`, {
        service: options.service,
        version: options.version,
      });
      print(
        global.json,
        entry,
        () => `${entry.key}${entry.service ? ` (${entry.service})` : ''} v${entry.version}\n${entry.value}`,
      );
    });
  config
    .command('list')
    .description("the tenant's keys with their live versions")
    .option('--service <name>', 'only this service (per-service keys)')
    .action(async (options: { service?: string }) => {
      const global = program.opts<{ apiUrl: string; tokenFile?: string; json: boolean }>();
      const { items } = await apiClient(global).get<{ items: ConfigJson[] }>('/v1/configs', {
        service: options.service,
      });
      print(global.json, items, () => formatEntries(items));
    });

  return program;
}

function exitCodeFor(error: ApiError): number {
  if (error.status === 0 || error.status >= 500) return EXIT.unavailable;
  if (error.status === 401) return EXIT.unauthenticated;
  if (error.status === 403) return EXIT.forbidden;
  if (error.status === 404) return EXIT.notFound;
  if (error.status === 409) return EXIT.conflict;
  return EXIT.failure;
}

export async function run(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (error instanceof ApiError) {
      process.stderr.write(
        `error: ${error.code}: ${error.message}${error.field ? ` (field: ${error.field})` : ''}\n`,
      );
      return exitCodeFor(error);
    }
    if (error instanceof UsageError) {
      process.stderr.write(`error: ${error.message}\n`);
      return EXIT.usage;
    }
    process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
    return EXIT.failure;
  }
}

if (require.main === module) {
  void run(process.argv).then((code) => process.exit(code));
}
