import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { toolPath } from '../../scripts/stack/index';
import { uniqueTenant } from '../support/env';
import { startTestServer, type TestServer } from '../support/server';
import { validToken } from '../support/tokens';

/** What an operator sees with the standard tools: grpcurl against the service, the AWS CLI against the stores. */
const run = promisify(execFile);

let server: TestServer;
let tenant: string;

beforeAll(async () => {
  server = await startTestServer();
  tenant = uniqueTenant('tools');
  await server.store.put(
    { tenantId: tenant, key: 'param_config_dbHost', service: 'billing' },
    'db.internal:5432',
    {
      expectedVersion: 0,
      makeLive: true,
    },
  );
  await server.store.put({ tenantId: tenant, key: 'tenant_config_limits' }, '{"rps":100}', {
    expectedVersion: 0,
    makeLive: true,
  });
});

afterAll(() => server.stop());

async function grpcurl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(toolPath('grpcurl'), ['-plaintext', ...args]);
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

async function aws(args: string[]): Promise<unknown> {
  const { stdout } = await run(toolPath('aws'), [...args, '--output', 'json']);
  return JSON.parse(stdout);
}

test('grpcurl lists ConfigService through server reflection', async () => {
  const { code, stdout } = await grpcurl([server.grpcAddress, 'list']);
  expect(code).toBe(0);
  expect(stdout.split('\n')).toContain('configsvc.v1.ConfigService');
});

test('grpcurl with a tenant’s token gets its config; another tenant’s token gets NotFound', async () => {
  const request = ['-d', '{"key":"param_config_dbHost","service":"billing"}'];
  const method = 'configsvc.v1.ConfigService/GetConfig';
  const own = await grpcurl([
    '-H',
    `authorization: Bearer ${validToken({ tenantId: tenant, groups: ['services'] })}`,
    ...request,
    server.grpcAddress,
    method,
  ]);
  expect(own.code).toBe(0);
  expect(JSON.parse(own.stdout)).toMatchObject({ entry: { value: 'db.internal:5432', version: '1' } });

  const other = await grpcurl([
    '-H',
    `authorization: Bearer ${validToken({ tenantId: uniqueTenant('intruder'), groups: ['services'] })}`,
    ...request,
    server.grpcAddress,
    method,
  ]);
  expect(other.code).not.toBe(0);
  expect(other.stderr).toMatch(/Code: NotFound/);
});

test('aws ssm get-parameter finds the value at /config-service/{tenant}/{service}/{key}, labelled live', async () => {
  const name = `/config-service/${tenant}/billing/param_config_dbHost`;
  const endpoint = process.env.AWS_ENDPOINT_URL_SSM!;
  const parameter = await aws(['--endpoint-url', endpoint, 'ssm', 'get-parameter', '--name', `${name}:live`]);
  expect(parameter).toMatchObject({ Parameter: { Name: name, Value: 'db.internal:5432', Version: 1 } });
});

test('aws dynamodb get-item shows the documented current-item shape', async () => {
  const endpoint = process.env.AWS_ENDPOINT_URL_DYNAMODB!;
  const key = JSON.stringify({ PK: { S: `TENANT#${tenant}` }, SK: { S: 'CONFIG#tenant_config_limits' } });
  const item = await aws([
    '--endpoint-url',
    endpoint,
    'dynamodb',
    'get-item',
    '--table-name',
    'tenant-config',
    '--key',
    key,
  ]);
  expect(item).toEqual({
    Item: {
      PK: { S: `TENANT#${tenant}` },
      SK: { S: 'CONFIG#tenant_config_limits' },
      configKey: { S: 'tenant_config_limits' },
      latestVersion: { N: '1' },
      liveVersion: { N: '1' },
      value: { S: '{"rps":100}' },
      liveUpdatedAt: { S: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) as unknown },
      keyCreatedAt: { S: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) as unknown },
    },
  });
});
