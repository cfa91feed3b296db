import { setTimeout as sleep } from 'node:timers/promises';
import { randomUUID } from 'node:crypto';
import { destroyAwsClients } from '../../activities/awsClients';
import type { Rollout } from '../../common/api/rollouts';
import { MAX_ALARM_SELECTORS } from '../../common/alarms';
import { tenantAlarms } from '../support/alarms';
import { runCfgctl } from '../support/cli';
import { stackClients, uniqueTenant } from '../support/env';
import { type FleetMember, startTenantFleet } from '../support/fleet';
import { callApi } from '../support/restApi';
import { startTestServer, type TestServer } from '../support/server';
import { validToken } from '../support/tokens';

/**
 * Alarm gates through the real cfgctl and REST API (rollout routes, an in-process worker, real SDK
 * instances, real alarms on moto): `--alarm` and `--alarm-prefix` start gated rollouts whose status and
 * history say what the gate decided; selectors past the bound, malformed ones, and another tenant's
 * alarm are refused naming the field.
 */
const KEYS = { passed: 'tenant_config_gatePassed', tripped: 'tenant_config_gateTripped' } as const;

let server: TestServer;
let tenant: string;
let service: string;
const clients = stackClients();
const instances: FleetMember[] = [];
const alarms = tenantAlarms(clients.cloudWatch);

const releaseManager = () => validToken({ tenantId: tenant, groups: ['release-managers'], subject: 'alice' });
const cfgctl = (args: string[]) => runCfgctl(server.httpUrl, args, releaseManager());
const api = (method: string, path: string, body?: unknown) =>
  callApi(server.httpUrl, method, path, releaseManager(), body);

beforeAll(async () => {
  server = await startTestServer({ rollouts: true });
  tenant = uniqueTenant('alarms');
  service = `orders-${randomUUID().slice(0, 6)}`;
  instances.push(
    ...(await startTenantFleet({ server, clients, tenantId: tenant, service, keys: Object.values(KEYS) })),
  );
}, 120_000);

afterAll(async () => {
  await Promise.all(instances.map((instance) => instance.client.stop()));
  destroyAwsClients(clients);
  await server?.stop();
});

const start = (key: string, gate: string[]) =>
  cfgctl([
    'rollout',
    'start',
    key,
    '--value',
    '{"v":2}',
    '--target',
    service,
    '--waves',
    '100%',
    '--bake',
    '1',
    ...gate,
    '--watch',
  ]);

test('rollout start --alarm with the alarm OK succeeds; history shows the gate passed', async () => {
  await alarms.create(tenant, 'orders/5xx');
  const started = await start(KEYS.passed, ['--alarm', 'orders/5xx']);
  expect(started.code).toBe(0);
  const id = started.stdout.split('\n')[0]!.trim();
  const history = await cfgctl(['rollout', 'history', id]);
  expect(history.stdout).toContain("alarm gate passed: no alarm in ALARM during the wave's push and bake");
  expect((await instances[0]!.client.get(tenant, KEYS.passed))?.version).toBe(2);
});

test('rollout start --alarm-prefix with an alarm in ALARM rolls back (exit 8); status and history name the alarm and its reason', async () => {
  const alarm = await alarms.create(tenant, 'checkout/errors');
  await alarms.set(alarm, 'ALARM', 'Threshold Crossed: errors 9% over 2%');
  const started = await start(KEYS.tripped, ['--alarm-prefix', 'checkout/']);
  expect(started.code).toBe(8);
  const id = started.stdout.split('\n')[0]!.trim();
  const status = await cfgctl(['--json', 'rollout', 'status', id]);
  const rollout = JSON.parse(status.stdout) as Rollout;
  expect(rollout.state).toBe('ROLLED_BACK');
  expect(rollout.outcome).toBe(
    `rolled back: alarm gate, wave 1: alarm ${alarm} is in ALARM: Threshold Crossed: errors 9% over 2%`,
  );
  const history = await cfgctl(['rollout', 'history', id]);
  expect(history.stdout).toContain(`alarm gate failed: alarm ${alarm} is in ALARM`);
  expect((await instances[0]!.client.get(tenant, KEYS.tripped))?.version).toBe(1);
  expect((await server.store.getLive({ tenantId: tenant, key: KEYS.tripped })).version).toBe(1);
});

test('more selectors than the bound, a malformed name, or both name and prefix: 400 naming the field; cfgctl refuses the same before sending', async () => {
  const tooMany = Array.from({ length: MAX_ALARM_SELECTORS + 1 }, (_, i) => ({ name: `a${i}` }));
  const body = (plan: unknown) => ({ key: KEYS.passed, value: '{"v":3}', targetServices: [service], plan });
  const refusals = [
    [tooMany, 'plan.alarms'],
    [[{ name: '../other-tenant/5xx' }], 'plan.alarms.0'],
    [[{ name: 'a', prefix: 'b' }], 'plan.alarms.0'],
  ] as const;
  for (const [selectors, field] of refusals) {
    const answer = await api('POST', '/v1/rollouts', body({ alarms: selectors }));
    expect(answer.status).toBe(400);
    expect(String(answer.body.field)).toMatch(new RegExp(`^${field.replaceAll('.', '\\.')}`));
  }
  const flags = tooMany.flatMap(({ name }) => ['--alarm', name]);
  const cli = await cfgctl([
    'rollout',
    'start',
    KEYS.passed,
    '--value',
    '{"v":3}',
    '--target',
    service,
    ...flags,
  ]);
  expect(cli.code).toBe(2);
  expect(cli.stderr).toContain('--alarm');
  expect(cli.stderr).toContain(`at most ${MAX_ALARM_SELECTORS}`);
});

test("another tenant's alarm named in a plan: the rollout fails before writing, its outcome naming the field", async () => {
  const other = await alarms.create(uniqueTenant('other'), 'orders/5xx');
  const answer = await api('POST', '/v1/rollouts', {
    key: KEYS.passed,
    value: '{"v":4}',
    targetServices: [service],
    plan: { strategy: { kind: 'explicit', waves: ['100%'] }, bakeSeconds: 0, alarms: [{ name: other }] },
  });
  expect(answer.status).toBe(202);
  let rollout: Rollout | undefined;
  for (let i = 0; i < 100 && rollout?.state !== 'FAILED'; i += 1) {
    await sleep(200);
    rollout = (await api('GET', `/v1/rollouts/${String(answer.body.rolloutId)}`)).body as unknown as Rollout;
  }
  expect(rollout?.state).toBe('FAILED');
  expect(rollout?.outcome).toContain(`plan.alarms[0].name: no alarm config-rollouts/${tenant}/${other}`);
  expect((await server.store.history({ tenantId: tenant, key: KEYS.passed })).map((v) => v.version)).toEqual([
    2, 1,
  ]);
});
