import { setTimeout as sleep } from 'node:timers/promises';
import { randomUUID } from 'node:crypto';
import { uniqueTenant } from '../support/env';
import { distinctArrays, multipliedUniqueItems, nestedSchemaJson } from '../support/expensiveSchemas';
import { type ApiAnswer, callApi } from '../support/restApi';
import { startTestServer, type TestServer } from '../support/server';
import { validToken } from '../support/tokens';

/**
 * Value schemas used as a weapon against the shared config service: a schema and value that cost
 * seconds to hours to check, schemas too deep for a recursive walk, and compiles requested for writes
 * that cannot succeed. Each attack runs against the real config service (REST API, rollouts on the
 * stack's Temporal) and is refused without the service pausing for any other tenant.
 */
const KEY = 'tenant_config_matrix';
/** 149 KB of small distinct arrays: with Ajv's pairwise `uniqueItems` this froze the service 19 s. */
const BIG_ARRAY = distinctArrays(20_000);

let server: TestServer;
let attacker: string;
let neighbour: string;

const manager = (tenant: string) =>
  validToken({ tenantId: tenant, groups: ['release-managers'], subject: `rm-${tenant}` });
const api = (method: string, urlPath: string, token: string | undefined, body?: unknown) =>
  callApi(server.httpUrl, method, urlPath, token, body);
const pool = () => server.store.schemaPool!;

beforeAll(async () => {
  server = await startTestServer({ rollouts: true });
}, 120_000);

afterAll(async () => {
  await server?.stop();
});

beforeEach(async () => {
  attacker = uniqueTenant('attacker');
  neighbour = uniqueTenant('neighbour');
  await server.store.put({ tenantId: neighbour, key: KEY }, '{"rows":[]}', {
    expectedVersion: 0,
    makeLive: true,
  });
});

const startRollout = (value: string) =>
  api('POST', '/v1/rollouts', manager(attacker), {
    key: KEY,
    value,
    targetServices: [`svc-${randomUUID().slice(0, 6)}`],
  });

/** Resolves once the pool has been handed one more value to check than `before`. */
async function checkSubmitted(before: number): Promise<void> {
  while (pool().stats().validations === before) await sleep(5);
}

test('uniqueItems over a 149 KB array of arrays is checked in linear time: refused for the rule it breaks', async () => {
  await api('PUT', `/v1/schemas/${KEY}`, manager(attacker), { schema: { maxItems: 1, uniqueItems: true } });
  // Within the budget, so the answer is the broken rule; the pairwise check ran out of budget here.
  expect(await startRollout(BIG_ARRAY)).toMatchObject({
    status: 400,
    body: {
      title: 'SchemaViolation',
      field: 'value',
      detail: expect.stringContaining('more than 1 items') as unknown,
    },
  });
  const duplicated = `[${BIG_ARRAY.slice(1, -1)},{"b":[1],"a":2},{"a":2,"b":[1]}]`;
  const refused = await startRollout(duplicated);
  expect(refused.body.detail).toMatch(
    /must NOT have duplicate items \(items ## 20000 and 20001 are identical\)/,
  );
});

test("while one tenant's value checks past the budget, another tenant's read and /healthz are answered first", async () => {
  await api('PUT', `/v1/schemas/${KEY}`, manager(attacker), { schema: multipliedUniqueItems() });
  const answered: string[] = [];
  const track = (name: string, call: Promise<ApiAnswer>) =>
    call.then((answer) => {
      answered.push(name);
      return answer;
    });

  const before = pool().stats().validations;
  const expensive = track('expensive rollout', startRollout(BIG_ARRAY));
  await checkSubmitted(before);
  const [read, health] = await Promise.all([
    track('neighbour read', api('GET', `/v1/configs/${KEY}`, manager(neighbour))),
    track('healthz', api('GET', '/healthz', undefined)),
  ]);
  expect(read).toMatchObject({ status: 200, body: { value: '{"rows":[]}' } });
  expect(health.status).toBe(200);

  const refused = await expensive;
  expect(answered.at(-1)).toBe('expensive rollout');
  expect(refused).toMatchObject({
    status: 422,
    body: {
      title: 'SchemaBudgetExceeded',
      field: 'value',
      detail: expect.stringMatching(
        /^schema evaluation exceeded its budget of \d+ ms while checking the value against its schema$/,
      ) as unknown,
    },
  });
  expect((await api('GET', `/v1/rollouts?key=${KEY}`, manager(attacker))).body.items).toEqual([]);
});

test('a PUT with a stale expectedVersion is a 409 before its new schema is compiled', async () => {
  expect(
    await api('PUT', `/v1/schemas/${KEY}`, manager(attacker), {
      schema: { type: 'object' },
      expectedVersion: 0,
    }),
  ).toMatchObject({ status: 200, body: { version: 1 } });
  // Never seen before, so no thread has it compiled: compiling it costs hundreds of milliseconds.
  const expensive = {
    properties: Object.fromEntries(
      Array.from({ length: 800 }, (_, i) => [`${randomUUID()}`, { type: 'string', pattern: `^${i}[a-z]+$` }]),
    ),
  };
  const checks = pool().stats().checks;
  const stale = await api('PUT', `/v1/schemas/${KEY}`, manager(attacker), {
    schema: expensive,
    expectedVersion: 0,
  });
  expect(stale).toMatchObject({ status: 409, body: { title: 'VersionConflict', field: 'expectedVersion' } });
  expect(pool().stats().checks).toBe(checks);

  expect(
    await api('PUT', `/v1/schemas/${KEY}`, manager(attacker), { schema: expensive, expectedVersion: 1 }),
  ).toMatchObject({ status: 200, body: { version: 2 } });
  expect(pool().stats().checks).toBe(checks + 1);
});

test('a schema nested 8,000 deep is a 400 naming the schema, and nothing is stored', async () => {
  // Sent as text: the test's own JSON.stringify cannot write it either.
  const response = await fetch(`${server.httpUrl}/v1/schemas/${KEY}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${manager(attacker)}`, 'content-type': 'application/json' },
    body: `{"schema":${nestedSchemaJson(8000)}}`,
  });
  const refused = { status: response.status, body: await response.json() };
  expect(refused).toMatchObject({
    status: 400,
    body: { title: 'InvalidArgument', field: 'schema', detail: 'schema must nest at most 100 levels deep' },
  });
  expect((await api('GET', `/v1/schemas/${KEY}`, manager(attacker))).status).toBe(404);
});

test('a value nested 8,000 deep is a 400 naming the value where its key has a schema', async () => {
  await api('PUT', `/v1/schemas/${KEY}`, manager(attacker), { schema: { type: 'array' } });
  expect(await startRollout(`${'['.repeat(8000)}${']'.repeat(8000)}`)).toMatchObject({
    status: 400,
    body: {
      title: 'InvalidArgument',
      field: 'value',
      detail: expect.stringMatching(/at most 100 levels deep/) as unknown,
    },
  });
});
