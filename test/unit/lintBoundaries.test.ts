import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Linter } from 'eslint';
import { repoRoot } from '../../common/repoRoot';

/**
 * The folder boundaries of eslint.config.mjs, proved the way `npx eslint .` applies them: each import is
 * linted with ESLint's Node API as the text of a real file of that folder (the file is not touched).
 */
const root = repoRoot();
const CYCLE_FIXTURE = path.join(root, 'test', 'fixtures', 'lint', 'cycleA.ts');

jest.setTimeout(180_000);

interface ImportCase {
  /** What the test's name says: "<who> importing <what>". */
  readonly who: string;
  /** A file of the folder whose rules apply; the import is linted in its place. */
  readonly file: string;
  readonly source: string;
}

/** Each boundary crossed, and the words of the rule's message that must be reported. */
const CROSSINGS: readonly (ImportCase & { readonly message: string })[] = [
  {
    who: 'an SDK file importing server/',
    file: 'sdk/tenancy.ts',
    source: "export { startGrpcServer } from '../server/grpc/grpcServer';",
    message: 'The SDK imports only common/, gen/ and its own files',
  },
  {
    who: 'an SDK file importing a type of activities/',
    file: 'sdk/tenancy.ts',
    source: "export type { ConfigStore } from '../activities/storage/configStore';",
    message: 'The SDK imports only common/, gen/ and its own files',
  },
  {
    who: 'an SDK file importing the DynamoDB client',
    file: 'sdk/tenancy.ts',
    source: "export { DynamoDBClient } from '@aws-sdk/client-dynamodb';",
    message: 'The SDK loads no Temporal, express, DynamoDB',
  },
  {
    who: 'a cfgctl command importing server/',
    file: 'cli/commands/devToken.ts',
    source: "export { startPlatformServer } from '../../server/platformServer';",
    message: 'cfgctl talks to the REST API only',
  },
  {
    who: 'a common/ file importing activities/',
    file: 'common/constants.ts',
    source: "export type { ConfigStore } from '../activities/storage/configStore';",
    message: 'common/ is the bottom layer',
  },
  {
    who: 'a file of the REST contract (common/api/) importing server/',
    file: 'common/api/plans.ts',
    source: "export { startPlatformServer } from '../../server/platformServer';",
    message: 'common/ is the bottom layer',
  },
  {
    who: 'a Lambda importing server/',
    file: 'lambdas/parameterStoreChangeEvent.ts',
    source: "export { startPlatformServer } from '../server/platformServer';",
    message: 'Lambdas never import server/',
  },
  {
    who: 'an activity importing server/',
    file: 'activities/awsClients.ts',
    source: "export { startPlatformServer } from '../server/platformServer';",
    message: 'Activities receive their clients',
  },
  {
    who: 'a console file importing server/',
    file: 'console/src/views/rollout.ts',
    source: "export { createHttpApp } from '../../../server/http/app';",
    message: 'The console imports only its own files and types from common/api',
  },
  {
    who: 'a console file importing a value (zod) from common/api',
    file: 'console/src/views/rollout.ts',
    source: "export { rolloutSchema } from '../../../common/api/rollouts';",
    message: 'The console imports only types from common/api',
  },
  {
    who: 'a console file importing a package',
    file: 'console/src/views/rollout.ts',
    source: "export { z } from 'zod';",
    message: 'The console bundles no package',
  },
];

/** Imports each folder may make, beside the crossings: the rules refuse only what they say. */
const ALLOWED: readonly ImportCase[] = [
  {
    who: 'an SDK file importing common/, gen/, its own files and the Cloud Map client',
    file: 'sdk/tenancy.ts',
    source: [
      "export { PlatformError } from '../common/errors';",
      "export type { ProtoGrpcType } from '../gen/proto/config';",
      "export { ConfigClientStateError } from './errors';",
      "export { ServiceDiscoveryClient } from '@aws-sdk/client-servicediscovery';",
    ].join('\n'),
  },
  {
    who: 'a cfgctl command importing common/',
    file: 'cli/commands/devToken.ts',
    source: "export { isTenantId } from '../../common/identifiers';",
  },
  {
    who: 'a common/ file importing its own files',
    file: 'common/constants.ts',
    source: "export { PlatformError } from './errors';",
  },
  {
    who: 'a Lambda importing rolloutClient/',
    file: 'lambdas/parameterStoreChangeEvent.ts',
    source: "export { startRollout } from '../rolloutClient';",
  },
  {
    who: 'a file of the REST contract (common/api/) importing common/',
    file: 'common/api/plans.ts',
    source: "export { MAX_BAKE_SECONDS } from '../rollout';",
  },
  {
    who: 'a console file importing its own files and types from common/api',
    file: 'console/src/views/rollout.ts',
    source: [
      "export type { Rollout } from '../../../common/api/rollouts';",
      "export { el } from '../dom';",
      "export { STATE_LABELS } from './shared';",
    ].join('\n'),
  },
];

interface LintRun {
  readonly texts: Linter.LintMessage[][];
  readonly files: Linter.LintMessage[][];
  readonly ignored: boolean[];
}

/** ESLint runs in a child process: jest's module sandbox cannot import eslint.config.mjs. */
async function lintInChild(texts: readonly ImportCase[], files: string[]): Promise<LintRun> {
  const child = promisify(execFile)(
    process.execPath,
    [path.join(root, 'test', 'support', 'lintRunner.mjs')],
    {
      cwd: root,
      maxBuffer: 16 * 1024 * 1024,
    },
  );
  const request = texts.map(({ file, source }) => ({
    filePath: path.join(root, file),
    source: `${source}\n`,
  }));
  child.child.stdin?.end(JSON.stringify({ cwd: root, texts: request, files }));
  return JSON.parse((await child).stdout) as LintRun;
}

const cases = [...CROSSINGS, ...ALLOWED];
let run: LintRun;

beforeAll(async () => {
  run = await lintInChild(cases, [CYCLE_FIXTURE]);
});

/** The boundary messages a case's text got. */
function restrictions(importCase: ImportCase): string[] {
  return (run.texts[cases.indexOf(importCase)] ?? [])
    .filter((message) => message.ruleId === 'no-restricted-imports')
    .map((message) => message.message);
}

describe('folder boundaries', () => {
  test.each(CROSSINGS)('$who fails the lint', (crossing) => {
    expect(restrictions(crossing)).toEqual([expect.stringContaining(crossing.message)]);
  });

  test.each(ALLOWED)('$who passes', (allowed) => {
    expect(restrictions(allowed)).toEqual([]);
  });
});

describe('import cycles', () => {
  test("the repo's own `npx eslint .` skips the cycle fixture", () => {
    expect(run.ignored[0]).toBe(true);
  });

  test('a two-file import cycle fails the lint', () => {
    const cycles = (run.files[0] ?? []).filter((message) => message.ruleId === 'import-x/no-cycle');
    expect(cycles.map((message) => message.message)).toEqual([expect.stringContaining('cycle')]);
  });
});
