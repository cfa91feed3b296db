import { runCfgctl } from '../support/cli';
import { uniqueTenant } from '../support/env';
import { startTestServer, type TestServer } from '../support/server';
import { validToken } from '../support/tokens';

/** The real cfgctl binary against the real API. */

let server: TestServer;
let tenant: string;

beforeAll(async () => {
  server = await startTestServer();
  tenant = uniqueTenant('cli');
  await server.store.put({ tenantId: tenant, key: 'tenant_config_flags' }, '{"beta":true}', {
    expectedVersion: 0,
    makeLive: true,
  });
});

afterAll(() => server.stop());

const cfgctl = (args: string[], token?: string) => runCfgctl(server.httpUrl, args, token);

test('dev-token prints a token the API accepts, and config get prints the value', async () => {
  const minted = await cfgctl(['dev-token', '--tenant', tenant, '--role', 'operator']);
  expect(minted.code).toBe(0);
  const got = await cfgctl(['config', 'get', 'tenant_config_flags'], minted.stdout.trim());
  expect(got).toMatchObject({ code: 0 });
  expect(got.stdout).toContain('v1');
  expect(got.stdout).toContain('{"beta":true}');
});

test('config list --json prints the tenant’s entries as JSON', async () => {
  const listed = await cfgctl(
    ['--json', 'config', 'list'],
    validToken({ tenantId: tenant, groups: ['services'] }),
  );
  expect(listed.code).toBe(0);
  expect(JSON.parse(listed.stdout)).toEqual([
    expect.objectContaining({ key: 'tenant_config_flags', version: 1 }),
  ]);
});

test('another tenant’s token gets "not found" and exit code 5', async () => {
  const other = validToken({ tenantId: uniqueTenant('other'), groups: ['operators'] });
  const got = await cfgctl(['config', 'get', 'tenant_config_flags'], other);
  expect(got.code).toBe(5);
  expect(got.stderr).toMatch(/NotFound/);
});

test('no token: exit code 3 and a message saying what is missing', async () => {
  const got = await cfgctl(['config', 'list']);
  expect(got.code).toBe(3);
  expect(got.stderr).toMatch(/missing credentials/);
});

test('a bad option: exit code 2 with usage', async () => {
  const got = await cfgctl(['dev-token', '--tenant', 'x', '--role', 'admin']);
  expect(got.code).toBe(2);
  expect(got.stderr).toMatch(/Allowed choices/);
});
