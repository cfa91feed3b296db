import { type Command, Option } from 'commander';
import type { Group } from '../../common/constants';
import { isTenantId } from '../../common/identifiers';
import { issueDevToken } from '../../scripts/stack/localIssuer';
import { positiveInteger } from '../optionParsers';
import { UsageError } from '../usageError';

const GROUP_BY_ROLE: Record<string, Group> = {
  'release-manager': 'release-managers',
  operator: 'operators',
  service: 'services',
  'platform-operator': 'config-platform-operators',
  'pool-service': 'pool-services',
  'platform-admin': 'config-platform-admins',
};

/** `cfgctl dev-token`: a token from the local issuer's key, for the local stack only. */
export function addDevTokenCommand(program: Command): void {
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
    .option('--ttl <seconds>', 'lifetime in seconds', positiveInteger, 3600)
    .addOption(
      new Option('--token-use <use>', 'Cognito token type').choices(['access', 'id']).default('access'),
    )
    .action(
      (options: {
        tenant: string;
        role: string;
        subject?: string;
        ttl: number;
        tokenUse: 'access' | 'id';
      }) => {
        if (!isTenantId(options.tenant)) {
          throw new UsageError('--tenant: use letters, digits, "_" or "-" (at most 64)');
        }
        const token = issueDevToken({
          tenantId: options.tenant,
          groups: [GROUP_BY_ROLE[options.role]!],
          subject: options.subject,
          ttlSeconds: options.ttl,
          tokenUse: options.tokenUse,
        });
        process.stdout.write(`${token}\n`);
      },
    );
}
