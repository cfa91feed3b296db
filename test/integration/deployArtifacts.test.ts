import { execFile, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse, Scalar, type Tags, type YAMLMap, type YAMLSeq } from 'yaml';
import { SchemaPool } from '../../activities/storage/schemaPool';
import { SchemaViolationError } from '../../common/errors';
import { loadStorageSettings } from '../../common/settings';
import { toolPath } from '../../scripts/stack/index';
import { repoRoot } from '../../common/repoRoot';
import { uniqueTenant } from '../support/env';

/**
 * The deployment artefacts, checked the way `npm run check:deploy` checks them (cfn-lint on the
 * template, `docker-compose config` on the compose file), plus the Lambda bundle that `npm run
 * build:lambda` makes for the template's function, run against the local stack. Nothing here talks to AWS
 * or needs a Docker daemon.
 */
const run = promisify(execFile);
const ROOT = repoRoot();
const TEMPLATE = path.join(ROOT, 'deploy', 'template.yaml');
const LAMBDA_ENTRY = path.join(ROOT, 'lambdas', 'parameterStoreChange.ts');
const LAMBDA_ZIP = path.join(ROOT, 'dist', 'lambda', 'parameter-store-change.zip');
const PLATFORM_PARAMETERS =
  'arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/config-service/*';
/** The stack's own key, or the operator's when PlatformKmsKeyArn names one. */
const PLATFORM_KEY = {
  'Fn::If': ['CreatePlatformKey', { 'Fn::GetAtt': 'PlatformKey.Arn' }, { Ref: 'PlatformKmsKeyArn' }],
};
const KEY_TAG = 'config-rollout-key-user';
// The current Node LTS, which every artefact names; Node 20 reached end of life on 2026-04-30.
const NODE_MAJOR = 24;

jest.setTimeout(120_000);

interface Outcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function outcome(command: string, args: string[], cwd = ROOT): Promise<Outcome> {
  try {
    const { stdout, stderr } = await run(command, args, { cwd, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

// CloudFormation's short-form intrinsics, read as their long forms so statements can be inspected.
const CLOUDFORMATION_TAGS: Tags = Object.entries({
  Ref: 'Ref',
  Sub: 'Fn::Sub',
  GetAtt: 'Fn::GetAtt',
  If: 'Fn::If',
  Not: 'Fn::Not',
  Equals: 'Fn::Equals',
  Join: 'Fn::Join',
}).flatMap(([name, long]) => [
  { tag: `!${name}`, resolve: (value: string) => ({ [long]: value }) },
  ...(['seq', 'map'] as const).map((collection) => ({
    tag: `!${name}`,
    collection,
    resolve: (value: YAMLSeq | YAMLMap) => new Scalar({ [long]: value.toJSON() as unknown }),
  })),
]);

interface Statement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
}
interface Resource {
  Type: string;
  Condition?: string;
  Properties: Record<string, unknown> & {
    Policies?: { PolicyDocument: { Statement: Statement[] } }[];
  };
}

function template(): { Resources: Record<string, Resource>; Conditions: Record<string, unknown> } {
  return parse(readFileSync(TEMPLATE, 'utf8'), { customTags: CLOUDFORMATION_TAGS }) as {
    Resources: Record<string, Resource>;
    Conditions: Record<string, unknown>;
  };
}

function resourcesOfType(type: string): [string, Resource][] {
  return Object.entries(template().Resources).filter(([, resource]) => resource.Type === type);
}

function statementsOf(role: string): Statement[] {
  const resource = template().Resources[role];
  if (!resource) throw new Error(`deploy/template.yaml has no ${role}`);
  return (resource.Properties.Policies ?? []).flatMap((policy) => policy.PolicyDocument.Statement);
}

const actions = (statement: Statement) =>
  Array.isArray(statement.Action) ? statement.Action : [statement.Action];

function composeCommand(): string[] | undefined {
  if (spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).status === 0) return ['docker-compose'];
  if (spawnSync('docker', ['compose', 'version'], { stdio: 'ignore' }).status === 0)
    return ['docker', 'compose'];
  return undefined;
}

describe('deploy/template.yaml', () => {
  test('cfn-lint finds no errors and no warnings', async () => {
    const { code, stdout, stderr } = await outcome(toolPath('cfn-lint'), [
      '--format',
      'parseable',
      '--',
      TEMPLATE,
    ]);
    expect({ code, findings: `${stdout}${stderr}`.trim() }).toEqual({ code: 0, findings: '' });
  });

  test('cfn-lint is not vacuous: a rule aimed at a resource that does not exist fails it', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'template-'));
    try {
      const broken = readFileSync(TEMPLATE, 'utf8').replace(
        'Arn: !GetAtt ParameterStoreChangeFunction.Arn',
        'Arn: !GetAtt NoSuchFunction.Arn',
      );
      writeFileSync(path.join(dir, 'template.yaml'), broken);
      const { code, stdout } = await outcome(toolPath('cfn-lint'), ['--', path.join(dir, 'template.yaml')]);
      expect(code).not.toBe(0);
      expect(stdout).toContain('NoSuchFunction');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the rule matches Parameter Store changes under /config-service/ and targets the Lambda with a DLQ', () => {
    const rule = template().Resources.ParameterStoreChangeRule;
    expect(rule?.Type).toBe('AWS::Events::Rule');
    expect(JSON.stringify(rule?.Properties.EventPattern)).toBe(
      '{"source":["aws.ssm"],"detail-type":["Parameter Store Change"],"detail":{"name":[{"prefix":"/config-service/"}],"operation":["Create","Update","Delete","LabelParameterVersion"]}}',
    );
    expect(rule?.Properties.Targets).toEqual([
      expect.objectContaining({
        Arn: { 'Fn::GetAtt': 'ParameterStoreChangeFunction.Arn' },
        RetryPolicy: { MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 86400 },
        DeadLetterConfig: { Arn: { 'Fn::GetAtt': 'DeadLetterQueue.Arn' } },
      }),
    ]);
  });

  test("the Lambda may only read parameters under /config-service/ and the tenants' plans, write its logs and dead-letter", () => {
    const statements = statementsOf('ParameterStoreChangeRole');
    const ssm = statements.filter((statement) =>
      actions(statement).some((action) => action.startsWith('ssm:')),
    );
    expect(ssm.flatMap(actions).sort()).toEqual([
      'ssm:GetParameter',
      'ssm:GetParameterHistory',
      'ssm:GetParameters',
    ]);
    for (const statement of ssm) expect(statement.Resource).toEqual({ 'Fn::Sub': PLATFORM_PARAMETERS });
    const dynamodb = statements.filter((statement) =>
      actions(statement).some((action) => action.startsWith('dynamodb:')),
    );
    expect(dynamodb.map((statement) => [actions(statement), statement.Resource])).toEqual([
      [['dynamodb:Query'], { 'Fn::GetAtt': 'SchemaTable.Arn' }],
    ]);
    const lambda = template().Resources.ParameterStoreChangeFunction!.Properties;
    expect((lambda.Environment as { Variables: object }).Variables).toMatchObject({
      SCHEMA_TABLE: { Ref: 'SchemaTable' },
    });
    expect(
      statements.flatMap(actions).every((action) => /^(ssm|logs|sqs|kms|dynamodb):[A-Za-z]+$/.test(action)),
    ).toBe(true);
    // KMS: sealing the rollouts it starts, its dead letters and its environment, with the platform key only.
    const kms = statements.filter((statement) =>
      actions(statement).some((action) => action.startsWith('kms:')),
    );
    expect(kms.map((statement) => [actions(statement).sort(), statement.Resource])).toEqual([
      [['kms:Decrypt', 'kms:GenerateDataKey'], PLATFORM_KEY],
    ]);
  });

  test('no role is granted a wildcard action; any resource only where AWS offers no resource ARN', () => {
    const roles = Object.entries(template().Resources).filter(
      ([, resource]) => resource.Type === 'AWS::IAM::Role',
    );
    expect(roles.map(([name]) => name).sort()).toEqual([
      'ApiTaskRole',
      'ParameterStoreChangeRole',
      'TaskExecutionRole',
      'WorkerTaskRole',
    ]);
    for (const [name] of roles) {
      for (const statement of statementsOf(name)) {
        expect(actions(statement).filter((action) => action.includes('*'))).toEqual([]);
        if (statement.Resource === '*') {
          // DiscoverInstances, bound to the namespace by a condition; the two List actions name nothing but
          // namespaces and services, and AWS scopes them to no resource.
          expect(name).toBe('WorkerTaskRole');
          expect([
            { actions: ['servicediscovery:DiscoverInstances'], bound: true },
            { actions: ['servicediscovery:ListNamespaces', 'servicediscovery:ListServices'], bound: false },
          ]).toContainEqual({ actions: actions(statement), bound: statement.Condition !== undefined });
        }
      }
    }
  });

  test('the config service never writes config: its only writes are value schemas and plans, in their own table', () => {
    const writes = statementsOf('ApiTaskRole').filter((statement) =>
      actions(statement).some((action) => /Put|Update|Delete|Label|BatchWrite/.test(action)),
    );
    expect(writes.map((statement) => statement.Resource)).toEqual([{ 'Fn::GetAtt': 'SchemaTable.Arn' }]);
    expect(actions(writes[0]!).sort()).toEqual([
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:Query',
      'dynamodb:UpdateItem',
    ]);
  });
});

describe('deploy/template.yaml at rest', () => {
  test('a customer-managed key: the stack creates one, with rotation, unless PlatformKmsKeyArn names one', () => {
    const { Conditions, Resources } = template();
    expect(Conditions.CreatePlatformKey).toEqual({ 'Fn::Equals': [{ Ref: 'PlatformKmsKeyArn' }, ''] });
    expect(Resources.PlatformKey).toMatchObject({
      Type: 'AWS::KMS::Key',
      Condition: 'CreatePlatformKey',
      Properties: { EnableKeyRotation: true },
    });
  });

  test('every table is encrypted with the platform key', () => {
    const tables = resourcesOfType('AWS::DynamoDB::Table');
    expect(tables.map(([name]) => name).sort()).toEqual(['ConfigTable', 'SchemaTable']);
    for (const [, table] of tables) {
      expect(table.Properties.SSESpecification).toEqual({
        SSEEnabled: true,
        SSEType: 'KMS',
        KMSMasterKeyId: PLATFORM_KEY,
      });
    }
  });

  test('the dead-letter queue is encrypted with the platform key, not an SQS-owned one', () => {
    const queues = resourcesOfType('AWS::SQS::Queue');
    expect(queues.map(([name]) => name)).toEqual(['DeadLetterQueue']);
    expect(queues[0]![1].Properties.KmsMasterKeyId).toEqual(PLATFORM_KEY);
    expect(queues[0]![1].Properties.SqsManagedSseEnabled).toBeUndefined();
  });

  test('every log group is encrypted with the platform key', () => {
    const groups = resourcesOfType('AWS::Logs::LogGroup');
    expect(groups.length).toBe(3);
    for (const [, group] of groups) expect(group.Properties.KmsKeyId).toEqual(PLATFORM_KEY);
  });

  test("the Lambda's environment is encrypted with the platform key", () => {
    const functions = resourcesOfType('AWS::Lambda::Function');
    expect(functions.length).toBe(1);
    for (const [, fn] of functions) expect(fn.Properties.KmsKeyArn).toEqual(PLATFORM_KEY);
  });

  test('ECS Container Insights is on', () => {
    for (const [, cluster] of resourcesOfType('AWS::ECS::Cluster')) {
      expect(cluster.Properties.ClusterSettings).toContainEqual({
        Name: 'containerInsights',
        Value: 'enabled',
      });
    }
  });

  test('the worker, the config service and the Lambda encrypt Temporal payloads with the platform key', () => {
    const { Resources } = template();
    for (const name of ['WorkerTaskDefinition', 'ApiTaskDefinition']) {
      const containers = Resources[name]!.Properties.ContainerDefinitions as { Environment: unknown[] }[];
      expect(containers[0]!.Environment).toContainEqual({ Name: 'PAYLOAD_KMS_KEY_ID', Value: PLATFORM_KEY });
    }
    const variables = (
      Resources.ParameterStoreChangeFunction!.Properties.Environment as { Variables: object }
    ).Variables;
    expect(variables).toMatchObject({ PAYLOAD_KMS_KEY_ID: PLATFORM_KEY });
  });

  test('only the roles that need the key carry the tag its policy names, and their policies name the key', () => {
    const tagged = resourcesOfType('AWS::IAM::Role').filter(([, role]) =>
      ((role.Properties.Tags ?? []) as { Key: string; Value: unknown }[]).some(
        (tag) =>
          tag.Key === KEY_TAG && JSON.stringify(tag.Value) === JSON.stringify({ Ref: 'AWS::StackName' }),
      ),
    );
    expect(tagged.map(([name]) => name).sort()).toEqual([
      'ApiTaskRole',
      'ParameterStoreChangeRole',
      'WorkerTaskRole',
    ]);
    for (const [name] of tagged) {
      const kms = statementsOf(name).filter((statement) =>
        actions(statement).some((a) => a.startsWith('kms:')),
      );
      expect(kms.map((statement) => statement.Resource)).toEqual([PLATFORM_KEY]);
    }
  });

  test("the key policy: administrators cannot decrypt; the account's principals only with the stack's tag, through its services or for Temporal payloads; Logs and EventBridge only for this stack", () => {
    const policy = template().Resources.PlatformKey!.Properties.KeyPolicy as {
      Statement: (Statement & { Principal: unknown })[];
    };
    const crypto = /^kms:(Encrypt|Decrypt|ReEncrypt|GenerateDataKey|\*)/;
    const account = { AWS: { 'Fn::Sub': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:root' } };
    for (const statement of policy.Statement) {
      expect(statement.Effect).toBe('Allow');
      expect(actions(statement)).not.toContain('kms:*');
      const conditions = JSON.stringify(statement.Condition ?? {});
      if (statement.Sid === 'KeyAdministration') {
        expect(actions(statement).filter((action) => crypto.test(action))).toEqual([]);
      } else if (JSON.stringify(statement.Principal) === JSON.stringify(account)) {
        // Beyond administration, the account's principals use the key only through a service or a context.
        expect(conditions).toMatch(/kms:ViaService|kms:EncryptionContext:purpose/);
        if (actions(statement).some((action) => /Decrypt|GenerateDataKey/.test(action))) {
          expect(conditions).toContain(`aws:PrincipalTag/${KEY_TAG}`);
        }
      } else {
        const service = (statement.Principal as { Service: unknown }).Service;
        expect([{ 'Fn::Sub': 'logs.${AWS::Region}.amazonaws.com' }, 'events.amazonaws.com']).toContainEqual(
          service,
        );
        // Only this stack's log groups and rules.
        expect(conditions).toMatch(/ArnLike.*\$\{AWS::StackName\}/);
      }
    }
    expect(policy.Statement.map((statement) => statement.Sid).sort()).toEqual([
      'CloudWatchLogs',
      'DeployThroughServices',
      'EventBridgeDeadLetters',
      'KeyAdministration',
      'PlatformRolesTemporalPayloads',
      'PlatformRolesThroughServices',
    ]);
  });
});

describe(`Node ${NODE_MAJOR} everywhere`, () => {
  const read = (...file: string[]) => readFileSync(path.join(ROOT, ...file), 'utf8');

  test(`package.json requires Node ${NODE_MAJOR} or newer`, () => {
    const { engines } = JSON.parse(read('package.json')) as { engines?: { node?: string } };
    expect(engines?.node).toBe(`>=${NODE_MAJOR}`);
  });

  test(`both stages of the image are built FROM node:${NODE_MAJOR}`, () => {
    const dockerfile = read('Dockerfile');
    expect(/^ARG NODE_IMAGE=(\S+)$/m.exec(dockerfile)?.[1]).toMatch(new RegExp(`^node:${NODE_MAJOR}-`));
    // No stage names its own base image, which could bring an older Node back.
    expect(dockerfile.match(/^FROM .*$/gm)).toEqual(['FROM ${NODE_IMAGE} AS build', 'FROM ${NODE_IMAGE}']);
  });

  test(`the Lambda runs on nodejs${NODE_MAJOR}.x and its bundle targets node${NODE_MAJOR}`, () => {
    expect(template().Resources.ParameterStoreChangeFunction?.Properties.Runtime).toBe(
      `nodejs${NODE_MAJOR}.x`,
    );
    expect(read('deploy', 'build-lambda.sh').match(/--target=\S+/g)).toEqual([`--target=node${NODE_MAJOR}`]);
  });

  test(`setup installs Node ${NODE_MAJOR} where the machine's node is older`, () => {
    expect(/^PROJECT_NODE_MAJOR=(\d+)$/m.exec(read('scripts', 'project-node.sh'))?.[1]).toBe(
      String(NODE_MAJOR),
    );
    expect(/^NODE_WHEEL_VERSION="(\d+)\./m.exec(read('scripts', 'setup.sh'))?.[1]).toBe(String(NODE_MAJOR));
  });

  test('cfn-lint would catch a move back: the template on nodejs20.x fails the check', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'template-'));
    try {
      const endOfLife = read('deploy', 'template.yaml').replace(
        `Runtime: nodejs${NODE_MAJOR}.x`,
        'Runtime: nodejs20.x',
      );
      expect(endOfLife).toContain('Runtime: nodejs20.x');
      writeFileSync(path.join(dir, 'template.yaml'), endOfLife);
      const { code, stdout } = await outcome(toolPath('cfn-lint'), [
        '--format',
        'parseable',
        '--',
        path.join(dir, 'template.yaml'),
      ]);
      expect(code).not.toBe(0);
      expect(stdout).toMatch(/W2531:Runtime 'nodejs20\.x' was deprecated/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('docker-compose.yml', () => {
  const compose = composeCommand();
  // Setup installs Debian's docker-compose when it runs as root with apt-get; elsewhere this is skipped.
  (compose ? test : test.skip)('`config -q` validates it', async () => {
    const [command, ...args] = compose ?? [];
    const { code, stderr } = await outcome(command as string, [
      ...args,
      '-f',
      'docker-compose.yml',
      'config',
      '-q',
    ]);
    expect({ code, stderr: stderr.trim() }).toEqual({ code: 0, stderr: '' });
  });
});

test('npm run check:deploy prints one line per check and succeeds', async () => {
  const { code, stdout } = await outcome('bash', [path.join(ROOT, 'scripts', 'check-deploy.sh')]);
  const lines = stdout.trim().split('\n');
  expect(lines).toHaveLength(2);
  expect(lines[0]).toBe('cfn-lint deploy/template.yaml: ok');
  expect(lines[1]).toMatch(/^docker[- ]compose config docker-compose\.yml: (ok|skipped \(.+\))$/);
  expect(code).toBe(0);
});

// The Lambda is another engineer's file; until it exists there is nothing to bundle.
(existsSync(LAMBDA_ENTRY) ? describe : describe.skip)('npm run build:lambda', () => {
  let unpacked: string;

  beforeAll(async () => {
    const { code, stdout, stderr } = await outcome('npm', ['run', '-s', 'build:lambda']);
    if (code !== 0) throw new Error(`npm run build:lambda failed (${code}): ${stdout}${stderr}`);
    unpacked = mkdtempSync(path.join(tmpdir(), 'lambda-'));
    await run('python3', [
      '-c',
      'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])',
      LAMBDA_ZIP,
      unpacked,
    ]);
  });

  afterAll(() => rmSync(unpacked, { recursive: true, force: true }));

  test("zips index.js, the schema threads' script and their source maps, byte for byte the same on a rebuild", async () => {
    const { stdout } = await run('python3', [
      '-c',
      'import sys, zipfile; print(" ".join(zipfile.ZipFile(sys.argv[1]).namelist()))',
      LAMBDA_ZIP,
    ]);
    expect(stdout.trim()).toBe('index.js index.js.map schemaWorker.js schemaWorker.js.map');
    const first = readFileSync(LAMBDA_ZIP);
    await run('npm', ['run', '-s', 'build:lambda'], { cwd: ROOT });
    expect(readFileSync(LAMBDA_ZIP).equals(first)).toBe(true);
  });

  test('index.handler runs where only the AWS SDK is provided, as in the Lambda runtime', async () => {
    // Everything but @aws-sdk/* is inside index.js: the only package beside it is the SDK. The handler
    // connects to the stack's Temporal and reads moto's Parameter Store, as it would on AWS.
    mkdirSync(path.join(unpacked, 'node_modules'));
    symlinkSync(path.join(ROOT, 'node_modules', '@aws-sdk'), path.join(unpacked, 'node_modules', '@aws-sdk'));
    const name = `/config-service/${uniqueTenant('bundle')}/orders/param_config_neverWritten`;
    const event = {
      version: '0',
      id: `bundle-${randomUUID()}`,
      'detail-type': 'Parameter Store Change',
      source: 'aws.ssm',
      account: '123456789012',
      time: new Date().toISOString(),
      region: 'us-east-1',
      resources: [],
      detail: { operation: 'Update', name, type: 'String' },
    };
    const script = `require('./index.js').handler(${JSON.stringify(event)}, { awsRequestId: 'bundle-test' })
      .then((outcome) => { console.log('OUTCOME ' + JSON.stringify(outcome)); process.exit(0); })`;
    const { stdout } = await run(process.execPath, ['--enable-source-maps', '-e', script], {
      cwd: unpacked,
      env: process.env,
    });
    const line = stdout.split('\n').find((candidate) => candidate.startsWith('OUTCOME '));
    // A parameter nobody wrote: read from Parameter Store, found missing, ignored.
    expect(JSON.parse(line?.slice('OUTCOME '.length) ?? 'null')).toEqual({
      outcome: 'ignored',
      reason: expect.stringContaining(name) as string,
    });
    const bundle = readFileSync(path.join(unpacked, 'index.js'), 'utf8');
    expect(bundle).toContain('require("@aws-sdk/client-ssm")');
    expect(bundle).not.toContain('node_modules/@aws-sdk/');
  });

  test('the bundled schema thread checks values where only the AWS SDK is provided', async () => {
    // schemaWorker.js sits beside index.js, where the bundled pool looks for it; nothing it needs is
    // outside it (the unpacked folder holds no node_modules but the SDK's).
    const pool = new SchemaPool(
      loadStorageSettings().schemaEvaluation,
      path.join(unpacked, 'schemaWorker.js'),
    );
    try {
      const schema = { type: 'object', required: ['on'], properties: { on: { type: 'boolean' } } };
      await expect(
        pool.validate('bundle', 'tenant_config_flags', 'json', '{"on":true}', schema),
      ).resolves.toBe(undefined);
      await expect(
        pool.validate('bundle', 'tenant_config_flags', 'json', '{"on":1}', schema),
      ).rejects.toThrow(new SchemaViolationError('tenant_config_flags', ['/on must be boolean']));
    } finally {
      await pool.close();
    }
  });
});
