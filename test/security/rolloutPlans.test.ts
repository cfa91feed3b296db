import { OutOfBandPlanStore } from '../../activities/storage/outOfBandPlanStore';
import { MAX_PLANS_PER_TENANT } from '../../common/outOfBandPlans';
import { loadStorageSettings } from '../../common/settings';
import { runCfgctl } from '../support/cli';
import { stackClients, uniqueTenant } from '../support/env';
import { callApi } from '../support/restApi';
import { startTestServer, type TestServer } from '../support/server';
import { validToken } from '../support/tokens';

/**
 * Per-key plans for out-of-band edits through the real REST API and the real cfgctl: release managers
 * set them, operators read them, services and other tenants get nothing, and every input is bounded.
 */
let server: TestServer;
const clients = stackClients();

beforeAll(async () => {
  server = await startTestServer();
}, 60_000);

afterAll(async () => {
  await server?.stop();
});

const manager = (tenant: string) =>
  validToken({ tenantId: tenant, groups: ['release-managers'], subject: `rm-${tenant}` });
const operator = (tenant: string) => validToken({ tenantId: tenant, groups: ['operators'] });
const api = (method: string, urlPath: string, token: string | undefined, body?: unknown) =>
  callApi(server.httpUrl, method, urlPath, token, body);
const cfgctl = (args: string[], token: string) => runCfgctl(server.httpUrl, args, token);

const ALL_AT_ONCE = { strategy: { kind: 'explicit', waves: ['100%'] }, bakeSeconds: 0 };

test('a release manager sets, reads, lists and deletes plans; omitted fields take the out-of-band default; who and when are recorded', async () => {
  const tenant = uniqueTenant('plans');
  const put = await api('PUT', '/v1/rollout-plans/param_config_endpoint', manager(tenant), {
    plan: ALL_AT_ONCE,
  });
  expect(put.status).toBe(200);
  expect(put.body).toMatchObject({
    selector: 'param_config_endpoint',
    plan: { ...ALL_AT_ONCE, approval: 'none', maxFailures: 0 },
    updatedBy: `rm-${tenant}`,
  });
  expect(Date.now() - Date.parse(put.body.updatedAt as string)).toBeLessThan(60_000);

  const prefixed = await api('PUT', '/v1/rollout-plans/param_config_flag_*?service=orders', manager(tenant), {
    plan: { bakeSeconds: 120, approval: 'after-first-wave' },
  });
  expect(prefixed.status).toBe(200);
  expect(prefixed.body).toMatchObject({
    selector: 'param_config_flag_*',
    service: 'orders',
    plan: { strategy: { kind: 'explicit', waves: [1, '50%', '100%'] }, bakeSeconds: 120 },
  });

  const read = await api('GET', '/v1/rollout-plans/param_config_flag_*?service=orders', operator(tenant));
  expect(read).toMatchObject({ status: 200, body: prefixed.body });
  // The scope is selector and service: the same selector for every service is another plan.
  expect((await api('GET', '/v1/rollout-plans/param_config_flag_*', operator(tenant))).status).toBe(404);

  const listed = await api('GET', '/v1/rollout-plans', operator(tenant));
  expect(listed.status).toBe(200);
  expect((listed.body.items as { selector: string }[]).map((p) => p.selector).sort()).toEqual([
    'param_config_endpoint',
    'param_config_flag_*',
  ]);

  expect(
    (await api('DELETE', '/v1/rollout-plans/param_config_flag_*?service=orders', manager(tenant))).status,
  ).toBe(204);
  const again = await api('DELETE', '/v1/rollout-plans/param_config_flag_*?service=orders', manager(tenant));
  expect(again).toMatchObject({ status: 404, body: { title: 'NotFound', field: 'selector' } });
  expect((await api('GET', '/v1/rollout-plans', operator(tenant))).body.items).toHaveLength(1);
});

test('invalid plans and selectors are refused naming the field', async () => {
  const tenant = uniqueTenant('plans');
  const cases: [string, unknown, string][] = [
    ['param_config_endpoint', { plan: { bakeSeconds: 99_999 } }, 'plan.bakeSeconds'],
    ['param_config_endpoint', { plan: { strategy: { kind: 'explicit', waves: [] } } }, 'plan.strategy'],
    ['param_config_endpoint', { plan: { maxFailures: '150%' } }, 'plan.maxFailures'],
    ['param_config_endpoint', { plan: { bakeSeconds: 0, tenantIdx: 1 } }, 'plan.tenantIdx'],
    ['param_config_endpoint', {}, 'plan'],
    // Keys that are never edited in Parameter Store, a bare `*`, a `*` inside, `..`.
    ['tenant_config_flags', { plan: {} }, 'selector'],
    ['tenant_*', { plan: {} }, 'selector'],
    ['*', { plan: {} }, 'selector'],
    ['param_*_x', { plan: {} }, 'selector'],
    ['param_config_a..b', { plan: {} }, 'selector'],
    [`param_config_${'x'.repeat(200)}`, { plan: {} }, 'selector'],
  ];
  for (const [selector, body, field] of cases) {
    const answer = await api(
      'PUT',
      `/v1/rollout-plans/${encodeURIComponent(selector)}`,
      manager(tenant),
      body,
    );
    expect({ selector, status: answer.status }).toEqual({ selector, status: 400 });
    expect(String(answer.body.field)).toMatch(new RegExp(`^${field.replace('.', '\\.')}`));
  }
  const badService = await api('PUT', '/v1/rollout-plans/param_config_x?service=../etc', manager(tenant), {
    plan: {},
  });
  expect(badService).toMatchObject({ status: 400, body: { field: 'service' } });
  expect((await api('GET', '/v1/rollout-plans', operator(tenant))).body.items).toEqual([]);
});

test("a tenant can neither read, change nor delete another tenant's plans; a tenant named in the request is refused", async () => {
  const victim = uniqueTenant('victim');
  const attacker = uniqueTenant('attacker');
  await api('PUT', '/v1/rollout-plans/param_config_endpoint', manager(victim), { plan: ALL_AT_ONCE });

  expect((await api('GET', '/v1/rollout-plans/param_config_endpoint', manager(attacker))).status).toBe(404);
  expect((await api('GET', '/v1/rollout-plans', manager(attacker))).body.items).toEqual([]);
  expect((await api('DELETE', '/v1/rollout-plans/param_config_endpoint', manager(attacker))).status).toBe(
    404,
  );
  // The attacker's own PUT of the same selector is its own plan; the victim's is untouched.
  await api('PUT', '/v1/rollout-plans/param_config_endpoint', manager(attacker), {
    plan: { bakeSeconds: 600 },
  });
  for (const smuggled of [
    { plan: { bakeSeconds: 600 }, tenantId: victim },
    { plan: { bakeSeconds: 600, tenantId: victim } },
  ]) {
    const answer = await api('PUT', '/v1/rollout-plans/param_config_endpoint', manager(attacker), smuggled);
    expect(answer.status).toBe(400);
  }
  const tenantInQuery = await api(
    'GET',
    `/v1/rollout-plans/param_config_endpoint?tenantId=${victim}`,
    manager(attacker),
  );
  expect(tenantInQuery.status).toBe(400);

  const victims = await api('GET', '/v1/rollout-plans/param_config_endpoint', operator(victim));
  expect(victims).toMatchObject({ status: 200, body: { plan: ALL_AT_ONCE, updatedBy: `rm-${victim}` } });
});

test('operators read but cannot write; services and callers without a token get nothing', async () => {
  const tenant = uniqueTenant('plans');
  await api('PUT', '/v1/rollout-plans/param_config_endpoint', manager(tenant), { plan: ALL_AT_ONCE });
  for (const [method, body] of [
    ['PUT', { plan: ALL_AT_ONCE }],
    ['DELETE', undefined],
  ] as const) {
    const answer = await api(method, '/v1/rollout-plans/param_config_endpoint', operator(tenant), body);
    expect(answer).toMatchObject({ status: 403, body: { title: 'PermissionDenied' } });
  }
  const service = validToken({ tenantId: tenant, groups: ['services'] });
  expect((await api('GET', '/v1/rollout-plans', service)).status).toBe(403);
  expect((await api('GET', '/v1/rollout-plans/param_config_endpoint', service)).status).toBe(403);
  expect((await api('GET', '/v1/rollout-plans', undefined)).status).toBe(401);
  expect((await api('GET', '/v1/rollout-plans/param_config_endpoint', operator(tenant))).status).toBe(200);
});

test(`a tenant keeps at most ${MAX_PLANS_PER_TENANT} plans, even when writers race; replacing one still works`, async () => {
  const tenant = uniqueTenant('bound');
  const { schemaTableName } = loadStorageSettings();
  const store = new OutOfBandPlanStore(clients.dynamodb, schemaTableName);
  const plan = {
    strategy: { kind: 'explicit', waves: ['100%'] },
    bakeSeconds: 0,
    approval: 'none',
    maxFailures: 0,
  } as const;
  // Twenty more writers than room, all at once: the count and each new plan are written together.
  const results = await Promise.allSettled(
    Array.from({ length: MAX_PLANS_PER_TENANT + 20 }, (_, i) =>
      store.put(tenant, { selector: `param_config_k${i}` }, plan, 'racer'),
    ),
  );
  const rejected = results.filter((r) => r.status === 'rejected');
  expect(rejected.length).toBe(20);
  for (const r of rejected) expect(r.reason).toMatchObject({ code: 'PlanLimitReached' });
  expect(await store.list(tenant)).toHaveLength(MAX_PLANS_PER_TENANT);

  const over = await api('PUT', '/v1/rollout-plans/param_config_one_more', manager(tenant), { plan: {} });
  expect(over).toMatchObject({ status: 409, body: { title: 'PlanLimitReached', field: 'selector' } });
  const stored = await store.list(tenant);
  const replaced = await api('PUT', `/v1/rollout-plans/${stored[0]!.selector}`, manager(tenant), {
    plan: { bakeSeconds: 5 },
  });
  expect(replaced).toMatchObject({ status: 200, body: { plan: { bakeSeconds: 5 } } });
  // A deletion makes room for exactly one more.
  expect((await api('DELETE', `/v1/rollout-plans/${stored[1]!.selector}`, manager(tenant))).status).toBe(204);
  expect(
    (await api('PUT', '/v1/rollout-plans/param_config_one_more', manager(tenant), { plan: {} })).status,
  ).toBe(200);
  expect(
    (await api('PUT', '/v1/rollout-plans/param_config_two_more', manager(tenant), { plan: {} })).status,
  ).toBe(409);
}, 30_000);

test('cfgctl plan set|get|list|delete take the options of rollout start and refuse bad input', async () => {
  const tenant = uniqueTenant('cliplans');
  const set = await cfgctl(
    [
      '--json',
      'plan',
      'set',
      'param_config_flag_*',
      '--service',
      'orders',
      '--waves',
      '1,100%',
      '--bake',
      '10',
      '--approval',
      'after-first-wave',
    ],
    manager(tenant),
  );
  expect(set.code).toBe(0);
  expect(JSON.parse(set.stdout)).toMatchObject({
    selector: 'param_config_flag_*',
    service: 'orders',
    plan: {
      strategy: { kind: 'explicit', waves: [1, '100%'] },
      bakeSeconds: 10,
      approval: 'after-first-wave',
    },
    updatedBy: `rm-${tenant}`,
  });
  expect(
    (
      await cfgctl(
        ['plan', 'set', 'param_config_endpoint', '--waves', '100%', '--bake', '0'],
        manager(tenant),
      )
    ).code,
  ).toBe(0);

  const got = await cfgctl(['plan', 'get', 'param_config_flag_*', '--service', 'orders'], operator(tenant));
  expect(got).toMatchObject({ code: 0 });
  expect(got.stdout).toContain(
    'param_config_flag_* (service orders): waves 1,100%, bake 10s, approval after-first-wave',
  );
  const listed = await cfgctl(['plan', 'list'], operator(tenant));
  expect(listed.stdout).toMatch(/param_config_endpoint\s+\*\s+waves 100%, bake 0s/);

  // Refused before any request, naming the option; and by the API for the operator.
  const badSelector = await cfgctl(['plan', 'set', 'tenant_config_x', '--bake', '0'], manager(tenant));
  expect(badSelector.code).toBe(2);
  expect(badSelector.stderr).toMatch(/selector.*param_config_/s);
  const badOptions = await cfgctl(
    ['plan', 'set', 'param_config_x', '--waves', '1', '--linear', '20%'],
    manager(tenant),
  );
  expect(badOptions.code).toBe(2);
  expect(badOptions.stderr).toMatch(/at most one of --waves, --linear and --exponential/);
  const denied = await cfgctl(['plan', 'delete', 'param_config_endpoint'], operator(tenant));
  expect(denied.code).not.toBe(0);
  expect(denied.stderr).toMatch(/PermissionDenied/);
  const other = await cfgctl(['plan', 'get', 'param_config_endpoint'], operator(uniqueTenant('other')));
  expect(other.code).toBe(5);

  expect(
    (await cfgctl(['plan', 'delete', 'param_config_flag_*', '--service', 'orders'], manager(tenant))).code,
  ).toBe(0);
  const after = await cfgctl(['--json', 'plan', 'list'], operator(tenant));
  expect((JSON.parse(after.stdout) as { selector: string }[]).map((p) => p.selector)).toEqual([
    'param_config_endpoint',
  ]);
}, 30_000);
