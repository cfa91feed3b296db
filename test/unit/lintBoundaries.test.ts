import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Linter } from 'eslint';
import { repoRoot } from '../../common/repoRoot';

/**
 * The folder boundaries of eslint.config.mjs, proved the way `npx eslint .` applies them: each crossing
 * is linted with ESLint's Node API as the text of a real file of that folder (the file is not touched).
 */
const root = repoRoot();
const CYCLE_FIXTURE = path.join(root, 'test', 'fixtures', 'lint', 'cycleA.ts');

jest.setTimeout(180_000);

/** Each case: the file whose folder's rules apply, and the text linted in its place. */
const CASES = {
  sdkImportsServer: ['sdk/tenancy.ts', "export { startGrpcServer } from '../server/grpc/grpcServer';"],
  sdkImportsActivitiesType: [
    'sdk/tenancy.ts',
    "export type { ConfigStore } from '../activities/storage/configStore';",
  ],
  sdkImportsDynamoDb: ['sdk/tenancy.ts', "export { DynamoDBClient } from '@aws-sdk/client-dynamodb';"],
  sdkImportsWhatItMay: [
    'sdk/tenancy.ts',
    [
      "export { PlatformError } from '../common/errors';",
      "export type { ProtoGrpcType } from '../gen/proto/config';",
      "export { ConfigClientStateError } from './errors';",
      "export { ServiceDiscoveryClient } from '@aws-sdk/client-servicediscovery';",
    ].join('\n'),
  ],
  cliImportsServer: [
    'cli/commands/devToken.ts',
    "export { startPlatformServer } from '../../server/platformServer';",
  ],
  cliImportsCommon: ['cli/commands/devToken.ts', "export { isTenantId } from '../../common/identifiers';"],
  commonImportsActivities: [
    'common/constants.ts',
    "export type { ConfigStore } from '../activities/storage/configStore';",
  ],
  commonImportsItself: ['common/constants.ts', "export { PlatformError } from './errors';"],
  lambdaImportsServer: [
    'lambdas/parameterStoreChangeEvent.ts',
    "export { startPlatformServer } from '../server/platformServer';",
  ],
  lambdaImportsRolloutClient: [
    'lambdas/parameterStoreChangeEvent.ts',
    "export { startRollout } from '../rolloutClient';",
  ],
  activitiesImportServer: [
    'activities/awsClients.ts',
    "export { startPlatformServer } from '../server/platformServer';",
  ],
} as const satisfies Record<string, readonly [string, string]>;
type CaseName = keyof typeof CASES;

interface LintRun {
  readonly texts: Linter.LintMessage[][];
  readonly files: Linter.LintMessage[][];
  readonly ignored: boolean[];
}

let caseMessages: Record<CaseName, Linter.LintMessage[]>;
let cycleMessages: Linter.LintMessage[];
let cycleFixtureIgnored: boolean;

/** ESLint runs in a child process: jest's module sandbox cannot import eslint.config.mjs. */
async function lintInChild(texts: { filePath: string; source: string }[], files: string[]): Promise<LintRun> {
  const child = promisify(execFile)(
    process.execPath,
    [path.join(root, 'test', 'support', 'lintRunner.mjs')],
    {
      cwd: root,
      maxBuffer: 16 * 1024 * 1024,
    },
  );
  child.child.stdin?.end(JSON.stringify({ cwd: root, texts, files }));
  return JSON.parse((await child).stdout) as LintRun;
}

beforeAll(async () => {
  const names = Object.keys(CASES) as CaseName[];
  const run = await lintInChild(
    names.map((name) => ({ filePath: path.join(root, CASES[name][0]), source: `${CASES[name][1]}\n` })),
    [CYCLE_FIXTURE],
  );
  caseMessages = Object.fromEntries(names.map((name, index) => [name, run.texts[index] ?? []])) as Record<
    CaseName,
    Linter.LintMessage[]
  >;
  cycleMessages = run.files[0] ?? [];
  cycleFixtureIgnored = run.ignored[0] ?? false;
});

/** The boundary messages a case's text got. */
function restrictions(name: CaseName): string[] {
  return caseMessages[name]
    .filter((message) => message.ruleId === 'no-restricted-imports')
    .map((message) => message.message);
}

describe('sdk/ imports only common/, gen/ and its own files', () => {
  test('an SDK file importing server/ fails the lint', () => {
    expect(restrictions('sdkImportsServer')).toEqual([
      expect.stringContaining('The SDK imports only common/, gen/ and its own files'),
    ]);
  });

  test('an SDK file importing activities/, even a type, fails the lint', () => {
    expect(restrictions('sdkImportsActivitiesType')).toEqual([
      expect.stringContaining('The SDK imports only common/, gen/ and its own files'),
    ]);
  });

  test('an SDK file importing the DynamoDB client fails the lint', () => {
    expect(restrictions('sdkImportsDynamoDb')).toEqual([
      expect.stringContaining('The SDK loads no Temporal, express, DynamoDB'),
    ]);
  });

  test('an SDK file importing common/, gen/, its own files and the Cloud Map client passes', () => {
    expect(restrictions('sdkImportsWhatItMay')).toEqual([]);
  });
});

describe('cli/ never imports server/, activities/ or workflows/', () => {
  test('a cfgctl command importing server/ fails the lint', () => {
    expect(restrictions('cliImportsServer')).toEqual([
      expect.stringContaining('cfgctl talks to the REST API only'),
    ]);
  });

  test('a cfgctl command importing common/ passes', () => {
    expect(restrictions('cliImportsCommon')).toEqual([]);
  });
});

describe('common/ is the bottom layer', () => {
  test('a common/ file importing activities/ fails the lint', () => {
    expect(restrictions('commonImportsActivities')).toEqual([
      expect.stringContaining('common/ is the bottom layer'),
    ]);
  });

  test('a common/ file importing its own files passes', () => {
    expect(restrictions('commonImportsItself')).toEqual([]);
  });
});

describe('lambdas/ start rollouts through rolloutClient/, not server/', () => {
  test('a Lambda importing server/ fails the lint', () => {
    expect(restrictions('lambdaImportsServer')).toEqual([
      expect.stringContaining('Lambdas never import server/'),
    ]);
  });

  test('a Lambda importing rolloutClient/ passes', () => {
    expect(restrictions('lambdaImportsRolloutClient')).toEqual([]);
  });
});

describe('activities/ receive their clients', () => {
  test('an activity importing server/ fails the lint', () => {
    expect(restrictions('activitiesImportServer')).toEqual([
      expect.stringContaining('Activities receive their clients'),
    ]);
  });
});

describe('import cycles', () => {
  test("the repo's own `npx eslint .` skips the cycle fixture", () => {
    expect(cycleFixtureIgnored).toBe(true);
  });

  test('a two-file import cycle fails the lint', () => {
    const cycles = cycleMessages.filter((message) => message.ruleId === 'import-x/no-cycle');
    expect(cycles.map((message) => message.message)).toEqual([expect.stringContaining('cycle')]);
  });
});
