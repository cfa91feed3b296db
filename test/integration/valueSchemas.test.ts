import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SchemaViolationError } from '../../common/errors';
import { DEFAULT_PLAN } from '../../common/rollout';
import { startRollout } from '../../rolloutClient';
import { formatRolloutId } from '../../server/rollouts/rolloutService';
import { runCfgctl } from '../support/cli';
import { uniqueTenant } from '../support/env';
import { callApi } from '../support/restApi';
import { startTestServer, type TestServer } from '../support/server';
import { validToken } from '../support/tokens';

/**
 * Value schemas against the real stack: set through the REST API and cfgctl, kept in DynamoDB, and
 * enforced on every write and every rollout start, in both backends.
 */
const KEY = 'tenant_config_paymentPreferences';
const PAYMENTS_SCHEMA = {
  type: 'object',
  required: ['provider', 'currency'],
  properties: {
    provider: { enum: ['stripe', 'adyen'] },
    currency: { type: 'string', pattern: '^[A-Z]{3}$' },
  },
  additionalProperties: false,
};

let server: TestServer;
let tenant: string;
const service = `payments-${randomUUID().slice(0, 6)}`;

const releaseManager = () => validToken({ tenantId: tenant, groups: ['release-managers'], subject: 'alice' });
const operator = () => validToken({ tenantId: tenant, groups: ['operators'], subject: 'olivia' });

beforeEach(() => {
  tenant = uniqueTenant('schema');
});

beforeAll(async () => {
  server = await startTestServer({ rollouts: true });
}, 120_000);

afterAll(async () => {
  await server?.stop();
});

const api = (method: string, urlPath: string, token: string | undefined, body?: unknown) =>
  callApi(server.httpUrl, method, urlPath, token, body);

const cfgctl = (args: string[], token: string) => runCfgctl(server.httpUrl, args, token);

test('release managers set a schema; everyone of the tenant reads it; versions guard concurrent edits', async () => {
  const set = await api('PUT', `/v1/schemas/${KEY}`, releaseManager(), { schema: PAYMENTS_SCHEMA });
  expect(set).toMatchObject({
    status: 200,
    body: { key: KEY, version: 1, schema: PAYMENTS_SCHEMA, updatedBy: 'alice' },
  });

  expect(await api('GET', `/v1/schemas/${KEY}`, operator())).toMatchObject({
    status: 200,
    body: { key: KEY, version: 1, schema: PAYMENTS_SCHEMA },
  });
  expect((await api('GET', '/v1/schemas', operator())).body.items).toEqual([
    expect.objectContaining({ key: KEY, version: 1 }),
  ]);

  const stale = await api('PUT', `/v1/schemas/${KEY}`, releaseManager(), {
    schema: { type: 'object' },
    expectedVersion: 0,
  });
  expect(stale).toMatchObject({ status: 409, body: { title: 'VersionConflict', field: 'expectedVersion' } });
  expect(String(stale.body.detail)).toMatch(/expected version 0, found 1/);
  const next = await api('PUT', `/v1/schemas/${KEY}`, releaseManager(), {
    schema: { ...PAYMENTS_SCHEMA, additionalProperties: true },
    expectedVersion: 1,
  });
  expect(next).toMatchObject({ status: 200, body: { version: 2 } });

  expect(await api('DELETE', `/v1/schemas/${KEY}`, releaseManager())).toMatchObject({ status: 204 });
  expect(await api('GET', `/v1/schemas/${KEY}`, operator())).toMatchObject({
    status: 404,
    body: { title: 'NotFound', field: 'key' },
  });
  expect((await api('DELETE', `/v1/schemas/${KEY}`, releaseManager())).status).toBe(404);
});

test('operators cannot set or delete a schema; another tenant neither sees nor changes it', async () => {
  await api('PUT', `/v1/schemas/${KEY}`, releaseManager(), { schema: PAYMENTS_SCHEMA });
  expect(await api('PUT', `/v1/schemas/${KEY}`, operator(), { schema: {} })).toMatchObject({
    status: 403,
    body: { title: 'PermissionDenied' },
  });
  expect((await api('DELETE', `/v1/schemas/${KEY}`, operator())).status).toBe(403);
  expect((await api('GET', `/v1/schemas/${KEY}`, undefined)).status).toBe(401);

  const other = uniqueTenant('other');
  const otherManager = validToken({ tenantId: other, groups: ['release-managers'], subject: 'mallory' });
  expect((await api('GET', `/v1/schemas/${KEY}`, otherManager)).status).toBe(404);
  expect((await api('GET', '/v1/schemas', otherManager)).body.items).toEqual([]);
  expect((await api('DELETE', `/v1/schemas/${KEY}`, otherManager)).status).toBe(404);
  expect((await api('GET', `/v1/schemas/${KEY}`, operator())).body).toMatchObject({ version: 1 });
});

test.each([
  ['a schema that does not compile', KEY, { schema: { type: 'bool' } }, 'InvalidArgument', 'schema'],
  ['a misspelt keyword', KEY, { schema: { type: 'object', propertys: {} } }, 'InvalidArgument', 'schema'],
  ['a key of no known backend', 'secret_config_x', { schema: {} }, 'UnknownPrefix', 'key'],
  ['a schema that is not an object', KEY, { schema: 'string' }, 'InvalidArgument', 'schema'],
])('%s is refused with a problem naming the field', async (_what, key, body, title, field) => {
  const refused = await api('PUT', `/v1/schemas/${key}`, releaseManager(), body);
  expect(refused.status).toBe(400);
  expect(refused.body).toMatchObject({ title, ...(field ? { field } : {}) });
  // Nothing was stored: the key has no schema (or, with no known prefix, cannot have one).
  expect((await api('GET', `/v1/schemas/${key}`, operator())).body.title).toBe(
    key === KEY ? 'NotFound' : 'UnknownPrefix',
  );
});

test('a rollout of a value that breaks the schema is refused before anything is written', async () => {
  await server.store.put({ tenantId: tenant, key: KEY }, '{"provider":"stripe","currency":"USD"}', {
    expectedVersion: 0,
    makeLive: true,
  });
  await api('PUT', `/v1/schemas/${KEY}`, releaseManager(), { schema: PAYMENTS_SCHEMA });

  const refused = await api('POST', '/v1/rollouts', releaseManager(), {
    key: KEY,
    value: '{"provider":"strype","currency":"usd"}',
    targetServices: [service],
  });
  expect(refused).toMatchObject({ status: 400, body: { title: 'SchemaViolation', field: 'value' } });
  expect(refused.body.detail).toBe(
    `value of "${KEY}" does not match its schema: ` +
      '/provider must be equal to one of the allowed values ["stripe","adyen"]; /currency must match pattern "^[A-Z]{3}$"',
  );
  expect((await server.store.history({ tenantId: tenant, key: KEY })).map((h) => h.version)).toEqual([1]);
  expect((await api('GET', `/v1/rollouts?key=${KEY}`, operator())).body.items).toEqual([]);
});

test('an existing version that breaks the schema set since is refused too, by the API and by the workflow', async () => {
  const address = { tenantId: tenant, key: KEY };
  await server.store.put(address, '{"provider":"stripe","currency":"USD"}', {
    expectedVersion: 0,
    makeLive: true,
  });
  await server.store.put(address, '{"provider":"cash","currency":"USD"}', {
    expectedVersion: 1,
    makeLive: false,
  });
  await api('PUT', `/v1/schemas/${KEY}`, releaseManager(), { schema: PAYMENTS_SCHEMA });

  const refused = await api('POST', '/v1/rollouts', releaseManager(), {
    key: KEY,
    version: 2,
    targetServices: [service],
  });
  expect(refused).toMatchObject({ status: 400, body: { title: 'SchemaViolation' } });

  // What the API refuses, the workflow refuses as well (an out-of-band edit starts it without the API).
  const handle = await startRollout(
    server.temporal!,
    {
      tenantId: tenant,
      key: KEY,
      change: { kind: 'existing', version: 2 },
      targetServices: [service],
      plan: DEFAULT_PLAN,
      actor: 'lambda',
    },
    server.taskQueue,
  );
  await expect(handle.result()).rejects.toThrow();
  const rolloutId = formatRolloutId(handle.firstExecutionRunId, KEY);
  const view = await api('GET', `/v1/rollouts/${rolloutId}`, operator());
  expect(view.body).toMatchObject({
    state: 'FAILED',
    outcome: `failed: value of "${KEY}" does not match its schema: /provider must be equal to one of the allowed values ["stripe","adyen"]`,
  });
  expect(await server.store.getLive(address)).toMatchObject({ version: 1 });
});

test('direct writes are checked in both backends: JSON documents and text values alike', async () => {
  const jsonAddress = { tenantId: tenant, key: KEY };
  await server.store.putSchema(tenant, KEY, PAYMENTS_SCHEMA, { actor: 'alice' });
  await expect(
    server.store.put(jsonAddress, '{"provider":"stripe"}', { expectedVersion: 0, makeLive: true }),
  ).rejects.toThrow(new SchemaViolationError(KEY, ["(the value) must have required property 'currency'"]));

  const textKey = 'param_config_webhookUrl';
  await server.store.putSchema(
    tenant,
    textKey,
    { type: 'string', format: 'uri', pattern: '^https://' },
    { actor: 'alice' },
  );
  const textAddress = { tenantId: tenant, key: textKey, service };
  await expect(
    server.store.put(textAddress, 'http://hooks.example', { expectedVersion: 0, makeLive: true }),
  ).rejects.toBeInstanceOf(SchemaViolationError);
  await expect(server.store.history(textAddress)).rejects.toMatchObject({ code: 'NotFound' });
  expect(
    await server.store.put(textAddress, 'https://hooks.example', { expectedVersion: 0, makeLive: true }),
  ).toMatchObject({ version: 1 });
});

test('cfgctl sets, shows and lists schemas, and a refused rollout says which rule and exits non-zero', async () => {
  const file = path.join(tmpdir(), `schema-${randomUUID()}.json`);
  writeFileSync(file, JSON.stringify(PAYMENTS_SCHEMA));
  await server.store.put({ tenantId: tenant, key: KEY }, '{"provider":"stripe","currency":"USD"}', {
    expectedVersion: 0,
    makeLive: true,
  });

  expect(
    await cfgctl(['schema', 'set', KEY, '--file', file, '--expected-version', '0'], releaseManager()),
  ).toEqual({ code: 0, stdout: `${KEY}: schema v1 set\n`, stderr: '' });
  const shown = await cfgctl(['--json', 'schema', 'get', KEY], operator());
  expect(JSON.parse(shown.stdout)).toMatchObject({
    key: KEY,
    version: 1,
    schema: PAYMENTS_SCHEMA,
    updatedBy: 'alice',
  });
  const listed = await cfgctl(['schema', 'list'], operator());
  expect(listed.stdout).toMatch(new RegExp(`^${KEY} +v1 +\\S+ +alice$`, 'm'));

  const refused = await cfgctl(
    ['rollout', 'start', KEY, '--value', '{"provider":"stripe","currency":"usd"}', '--target', service],
    releaseManager(),
  );
  expect(refused).toEqual({
    code: 1,
    stdout: '',
    stderr: `error: SchemaViolation: value of "${KEY}" does not match its schema: /currency must match pattern "^[A-Z]{3}$" (field: value)\n`,
  });

  expect(
    await cfgctl(['schema', 'set', KEY, '--file', file, '--expected-version', '0'], releaseManager()),
  ).toMatchObject({ code: 6, stderr: expect.stringMatching(/VersionConflict/) as unknown });
  expect(await cfgctl(['schema', 'set', KEY, '--file', '/nonexistent.json'], releaseManager())).toMatchObject(
    {
      code: 2,
      stderr: expect.stringMatching(/--file: cannot read \/nonexistent.json/) as unknown,
    },
  );
  expect(await cfgctl(['schema', 'delete', KEY], operator())).toMatchObject({ code: 4 });
  expect(await cfgctl(['schema', 'delete', KEY], releaseManager())).toEqual({
    code: 0,
    stdout: `${KEY}: schema removed\n`,
    stderr: '',
  });
});
