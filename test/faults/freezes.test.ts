import { setTimeout as sleep } from 'node:timers/promises';
import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { PutParameterCommand } from '@aws-sdk/client-ssm';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ensureConfigTable } from '../../activities/storage/configTable';
import type { Group } from '../../common/constants';
import type { Rollout } from '../../common/api/rollouts';
import { handler } from '../../lambdas/parameterStoreChange';
import type { ParameterStoreChange } from '../../lambdas/parameterStoreChangeEvent';
import { progressQuery } from '../../workflows/definitions';
import { stackClients, uniqueTenant } from '../support/env';
import { runCfgctl } from '../support/cli';
import { type FleetMember, startInstance } from '../support/fleet';
import { allAtOnce } from '../support/plans';
import { callApi } from '../support/restApi';
import { startTestServer, type TestServer } from '../support/server';
import { validToken } from '../support/tokens';
import { until } from '../support/until';

/**
 * Freezes and change windows on the real stack: the REST API, its store (a schema table of this file's
 * own, so a platform freeze here holds no other test file's rollouts), the Temporal dev server, a real
 * worker and SDK instances. A freeze refuses new rollouts with 409 naming who, when and why, pauses a
 * running one at its next wave boundary, and unfreezing completes it; one tenant's freeze leaves another
 * alone; only platform administrators set the platform's.
 */
const KEY = 'tenant_config_featureFlags';
const clients = stackClients();
const schemaTable = `freezes-${randomUUID().slice(0, 8)}`;
const savedEnv = { ...process.env };
const instances: FleetMember[] = [];
let server: TestServer;

beforeAll(async () => {
  await ensureConfigTable(clients.dynamodb, schemaTable);
  // The config service, its in-process worker and the Lambda read freezes (and schemas, plans) from
  // this table only.
  process.env.SCHEMA_TABLE = schemaTable;
  server = await startTestServer({ rollouts: true });
  process.env.TEMPORAL_TASK_QUEUE = server.taskQueue;
  process.env.OUT_OF_BAND_ROLLOUT_PLAN = JSON.stringify({ bakeSeconds: 0 });
}, 120_000);

afterAll(async () => {
  await Promise.all(instances.map((instance) => instance.client.stop()));
  await server?.stop();
  process.env = savedEnv;
  await clients.dynamodb.send(new DeleteTableCommand({ TableName: schemaTable })).catch(() => undefined);
});

const token = (tenantId: string, group: Group, subject: string) =>
  validToken({ tenantId, groups: [group], subject });
const api = (method: string, path: string, bearer: string, body?: unknown) =>
  callApi(server.httpUrl, method, path, bearer, body);

/** A tenant with its key live at version 1 on `count` instances of a service of its own. */
async function tenantWithFleet(label: string, count: number) {
  const tenantId = uniqueTenant(label);
  const service = `${label}-${randomUUID().slice(0, 6)}`;
  const address = { tenantId, key: KEY };
  await server.store.put(address, '{"v":1}', { expectedVersion: 0, makeLive: true });
  const members: FleetMember[] = [];
  for (let i = 0; i < count; i += 1) {
    members.push(await startInstance({ server, clients, service, tenancy: tenantId, preload: [address] }));
  }
  instances.push(...members);
  const held = () => Promise.all(members.map(async (m) => (await m.client.get(tenantId, KEY))?.version));
  return { tenantId, service, address, held, rm: token(tenantId, 'release-managers', `rm-${label}`) };
}

const startBody = (service: string, plan = allAtOnce()) => ({
  key: KEY,
  value: '{"v":2}',
  targetServices: [service],
  plan,
});

async function rolloutOf(bearer: string, rolloutId: string): Promise<Rollout> {
  return (await api('GET', `/v1/rollouts/${rolloutId}`, bearer)).body as unknown as Rollout;
}

test("a tenant's freeze refuses its new rollouts with 409 naming who, when and why; another tenant starts as before", async () => {
  const a = await tenantWithFleet('fza', 1);
  const b = await tenantWithFleet('fzb', 1);
  const frozen = await api('PUT', '/v1/freeze', a.rm, { reason: 'INC-7: checkout errors' });
  expect(frozen.status).toBe(200);
  expect(frozen.body).toMatchObject({ frozen: true, scope: 'tenant', frozenBy: 'rm-fza' });

  // The tenant is the token's: naming another in the body is refused, not obeyed.
  const smuggled = await api('PUT', '/v1/freeze', a.rm, { reason: 'theirs', tenantId: b.tenantId });
  expect(smuggled.status).toBe(400);
  const refused = await api('POST', '/v1/rollouts', a.rm, startBody(a.service));
  expect(refused.status).toBe(409);
  expect(refused.body.title).toBe('Frozen');
  expect(refused.body.detail).toMatch(
    new RegExp(
      `tenant ${a.tenantId} was frozen by rm-fza at ${String(frozen.body.frozenAt)}: INC-7: checkout errors`,
    ),
  );
  // Refused before anything was written.
  expect((await server.store.history(a.address)).map((entry) => entry.version)).toEqual([1]);

  expect((await api('GET', '/v1/freeze', b.rm)).body).toEqual({ frozen: false });
  const started = await api('POST', '/v1/rollouts', b.rm, startBody(b.service));
  expect(started.status).toBe(202);
  const done = await until('B rolled out', async () => {
    const view = await rolloutOf(b.rm, started.body.rolloutId as string);
    return view.state === 'SUCCEEDED' ? view : undefined;
  });
  expect(done.hold).toBeUndefined();
  expect(await b.held()).toEqual([2]);

  expect((await api('DELETE', '/v1/freeze', a.rm)).status).toBe(204);
  expect((await api('DELETE', '/v1/freeze', a.rm)).status).toBe(404);
  expect((await api('POST', '/v1/rollouts', a.rm, startBody(a.service))).status).toBe(202);
}, 60_000);

test('a freeze pauses a running rollout at its next wave boundary; unfreezing completes it on every instance, written once', async () => {
  const a = await tenantWithFleet('fzrun', 3);
  const plan = allAtOnce({ strategy: { kind: 'explicit', waves: [1, '100%'] }, bakeSeconds: 2 });
  const started = await api('POST', '/v1/rollouts', a.rm, startBody(a.service, plan));
  expect(started.status).toBe(202);
  const rolloutId = started.body.rolloutId as string;
  await until('the canary baking', async () =>
    (await rolloutOf(a.rm, rolloutId)).state === 'BAKING' ? true : undefined,
  );

  const frozen = await api('PUT', '/v1/freeze', a.rm, { reason: 'INC-8: latency' });
  expect(frozen.body.signalled).toBe(1);
  const paused = await until('paused at wave 1', async () => {
    const view = await rolloutOf(a.rm, rolloutId);
    return view.state === 'PAUSED' ? view : undefined;
  });
  expect(paused).toMatchObject({
    currentWave: 1,
    hold: { gate: 'freeze', scope: 'tenant', frozenBy: 'rm-fzrun', reason: 'INC-8: latency' },
  });
  expect(paused.audit.some((entry) => entry.action === 'freeze' && entry.actor === 'rm-fzrun')).toBe(true);
  // Held: past its bake, the canary alone has the candidate, and it stays so.
  await sleep(3_000);
  expect((await rolloutOf(a.rm, rolloutId)).state).toBe('PAUSED');
  expect((await a.held()).sort()).toEqual([1, 1, 2]);
  expect((await server.store.getLive(a.address)).version).toBe(1);
  // A resume is not how a freeze ends: it says so.
  const resumed = await api('POST', `/v1/rollouts/${rolloutId}/resume`, a.rm, {});
  expect(resumed.status).toBe(409);
  expect(resumed.body.detail).toMatch(/held by a freeze/);

  const operator = token(a.tenantId, 'operators', 'op-fzrun');
  expect((await api('GET', '/v1/freeze', operator)).body).toMatchObject({
    frozen: true,
    reason: 'INC-8: latency',
  });
  expect((await api('DELETE', '/v1/freeze', operator)).status).toBe(403);
  expect((await api('DELETE', '/v1/freeze', token(a.tenantId, 'release-managers', 'rm-other'))).status).toBe(
    204,
  );
  const done = await until('the rollout finished', async () => {
    const view = await rolloutOf(a.rm, rolloutId);
    return view.state === 'SUCCEEDED' ? view : undefined;
  });
  expect(done.hold).toBeUndefined();
  expect(done.audit.find((entry) => entry.action === 'unfreeze')?.actor).toBe('rm-other');
  expect(await a.held()).toEqual([2, 2, 2]);
  expect((await server.store.getLive(a.address)).version).toBe(2);
  expect((await server.store.history(a.address)).map((entry) => entry.version)).toEqual([2, 1]);
}, 90_000);

test('the platform freeze: 403 for every tenant role, refuses every tenant, and only a platform administrator lifts it', async () => {
  const a = await tenantWithFleet('fzpa', 0);
  const b = await tenantWithFleet('fzpb', 0);
  for (const group of ['release-managers', 'operators', 'services', 'config-platform-operators'] as const) {
    const caller = token(a.tenantId, group, `someone-${group}`);
    expect((await api('PUT', '/v1/platform/freeze', caller, { reason: 'mine' })).status).toBe(403);
    expect((await api('DELETE', '/v1/platform/freeze', caller)).status).toBe(403);
  }
  const admin = token('platform', 'config-platform-admins', 'admin-zoe');
  expect((await api('PUT', '/v1/platform/freeze', admin, {})).body).toMatchObject({ field: 'reason' });
  expect((await api('PUT', '/v1/platform/freeze', admin, { reason: 'x'.repeat(501) })).status).toBe(400);
  expect((await api('PUT', '/v1/platform/freeze', admin, { reason: 'region failover' })).status).toBe(200);
  try {
    for (const tenant of [a, b]) {
      const refused = await api('POST', '/v1/rollouts', tenant.rm, startBody(tenant.service));
      expect(refused.status).toBe(409);
      expect(refused.body.detail).toMatch(/the platform was frozen by admin-zoe at .*: region failover/);
    }
    expect((await api('GET', '/v1/platform/freeze', a.rm)).body).toMatchObject({
      frozen: true,
      scope: 'platform',
    });
    // A tenant's own freeze and its lifting leave the platform's in place.
    expect((await api('PUT', '/v1/freeze', a.rm, { reason: 'also' })).status).toBe(200);
    expect((await api('DELETE', '/v1/freeze', a.rm)).status).toBe(204);
    expect((await api('POST', '/v1/rollouts', a.rm, startBody(a.service))).status).toBe(409);
  } finally {
    expect((await api('DELETE', '/v1/platform/freeze', admin)).status).toBe(204);
  }
  expect((await api('POST', '/v1/rollouts', b.rm, startBody(b.service))).status).toBe(202);
}, 60_000);

test('outside its change windows a rollout waits before its first push, visible in status; its release manager may abort it', async () => {
  const a = await tenantWithFleet('fzwin', 1);
  const bad = await api('PUT', '/v1/change-windows', a.rm, {
    windows: [{ days: ['mon', 'funday'], startHour: 9, endHour: 17 }],
  });
  expect(bad.status).toBe(400);
  expect(bad.body.field).toBe('windows[0].days[1]');
  // One hour a week, twelve hours from now: closed now.
  const opens = new Date(Math.ceil((Date.now() + 12 * 3_600_000) / 3_600_000) * 3_600_000);
  const day = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'][opens.getUTCDay()]!;
  const window = { days: [day], startHour: opens.getUTCHours(), endHour: opens.getUTCHours() + 1 };
  expect((await api('PUT', '/v1/change-windows', a.rm, { windows: [window] })).status).toBe(200);
  expect((await api('GET', '/v1/change-windows', a.rm)).body).toMatchObject({
    windows: [window],
    updatedBy: 'rm-fzwin',
  });

  const started = await api('POST', '/v1/rollouts', a.rm, startBody(a.service));
  expect(started.status).toBe(202);
  const rolloutId = started.body.rolloutId as string;
  const waiting = await until('waiting for its window', async () => {
    const view = await rolloutOf(a.rm, rolloutId);
    return view.state === 'PAUSED' ? view : undefined;
  });
  expect(waiting.hold).toEqual({ gate: 'change-window', until: opens.toISOString() });
  expect(await a.held()).toEqual([1]);

  expect(
    (await api('POST', `/v1/rollouts/${rolloutId}/abort`, a.rm, { reason: 'not this week' })).status,
  ).toBe(200);
  const ended = await until('rolled back', async () => {
    const view = await rolloutOf(a.rm, rolloutId);
    return view.state === 'ROLLED_BACK' ? view : undefined;
  });
  expect(ended.outcome).toMatch(/aborted by rm-fzwin: not this week/);
  expect(await a.held()).toEqual([1]);
  expect((await server.store.getLive(a.address)).version).toBe(1);
  expect((await api('DELETE', '/v1/change-windows', a.rm)).status).toBe(204);
}, 60_000);

test('an out-of-band Parameter Store edit during a freeze starts its rollout, which waits frozen before any push; unfreezing rolls it out', async () => {
  const tenantId = uniqueTenant('fzoob');
  const service = `fzoob-${randomUUID().slice(0, 6)}`;
  const key = 'param_config_endpoint';
  const address = { tenantId, key, service };
  const name = `/config-service/${tenantId}/${service}/${key}`;
  await server.store.put(address, 'https://v1.example', { expectedVersion: 0, makeLive: true });
  const member = await startInstance({ server, clients, service, tenancy: tenantId, preload: [address] });
  instances.push(member);
  const rm = token(tenantId, 'release-managers', 'rm-fzoob');
  expect((await api('PUT', '/v1/freeze', rm, { reason: 'INC-9: DNS' })).status).toBe(200);

  // The edit is already in Parameter Store, not live: its rollout is what would push it.
  await clients.ssm.send(
    new PutParameterCommand({ Name: name, Value: 'https://v2.example', Type: 'String', Overwrite: true }),
  );
  const fixture = path.join(__dirname, '..', '..', '..', 'shared', 'fixtures', 'ssm-change-update.json');
  const event = JSON.parse(readFileSync(fixture, 'utf8')) as ParameterStoreChange;
  const outcome = await handler({ ...event, id: randomUUID(), detail: { ...event.detail, name } });
  if (outcome.outcome !== 'started') throw new Error(`not started: ${JSON.stringify(outcome)}`);
  const handle = server.temporal!.workflow.getHandle(outcome.workflowId, outcome.runId);
  const held = await until('held by the freeze', async () => {
    const progress = await handle.query(progressQuery);
    return progress.state === 'PAUSED' ? progress : undefined;
  });
  expect(held.hold).toMatchObject({ gate: 'freeze', frozenBy: 'rm-fzoob', reason: 'INC-9: DNS' });
  expect((await member.client.get(tenantId, key, service))?.version).toBe(1);
  expect((await server.store.getLive(address)).version).toBe(1);

  expect((await api('DELETE', '/v1/freeze', rm)).status).toBe(204);
  expect(await handle.result()).toMatchObject({ state: 'SUCCEEDED', liveVersion: 2 });
  expect((await member.client.get(tenantId, key, service))?.version).toBe(2);
  expect((await server.store.getLive(address)).version).toBe(2);
}, 60_000);

test('cfgctl: freeze set, show, a refused start (exit 6, naming the freeze), clear; windows set, get, clear', async () => {
  const tenantId = uniqueTenant('fzcli');
  const rm = token(tenantId, 'release-managers', 'rm-fzcli');
  const cfgctl = (...args: string[]) => runCfgctl(server.httpUrl, args, rm);
  expect((await cfgctl('freeze', 'set', '--reason', 'INC-10: release train held')).stdout).toMatch(
    /frozen \(tenant\) by rm-fzcli at .*: INC-10: release train held/,
  );
  expect((await cfgctl('freeze', 'show')).stdout).toMatch(/INC-10: release train held/);
  const refused = await cfgctl(
    'rollout',
    'start',
    'tenant_config_featureFlags',
    '--value',
    '{"v":1}',
    '--target',
    'orders',
  );
  expect(refused.code).toBe(6);
  expect(refused.stderr).toMatch(/Frozen.*frozen by rm-fzcli .*INC-10: release train held/s);
  expect((await cfgctl('freeze', 'show', '--platform')).stdout).toMatch(/not frozen/);
  expect((await cfgctl('freeze', 'set', '--platform', '--reason', 'mine')).code).toBe(4);
  expect((await cfgctl('freeze', 'clear')).code).toBe(0);
  expect((await cfgctl('freeze', 'show')).stdout).toMatch(/not frozen/);

  expect(
    (await cfgctl('windows', 'set', '--window', 'mon-fri 09-17', '--window', 'sat 10-12')).stdout,
  ).toMatch(/mon,tue,wed,thu,fri 09-17 UTC\nsat 10-12 UTC\nset by rm-fzcli/);
  expect((await cfgctl('--json', 'windows', 'get')).stdout).toContain('"startHour": 9');
  expect((await cfgctl('windows', 'set', '--window', 'mon 18-09')).code).toBe(2);
  expect((await cfgctl('windows', 'clear')).code).toBe(0);
  expect((await cfgctl('windows', 'get')).code).toBe(5);
}, 60_000);
