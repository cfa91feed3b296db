import { setTimeout as sleep } from 'node:timers/promises';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { toolPath } from '../../scripts/stack/index';
import { stackClients, uniqueTenant } from '../support/env';
import { type FleetMember, startInstance } from '../support/fleet';
import { callApi } from '../support/restApi';
import { startTestServer, type TestServer } from '../support/server';
import { validToken } from '../support/tokens';

/**
 * The rollout REST API against the real stack: Temporal dev server, in-process worker, real SDK
 * instances. Roles and tenants come from tokens; requests are validated against /openapi.json.
 */
const KEY = 'tenant_config_checkout';
const run = promisify(execFile);

let server: TestServer;
let tenant: string;
let service: string;
const clients = stackClients();
const instances: FleetMember[] = [];

const releaseManager = (subject = 'alice') =>
  validToken({ tenantId: tenant, groups: ['release-managers'], subject });
const operator = () => validToken({ tenantId: tenant, groups: ['operators'], subject: 'olivia' });

beforeAll(async () => {
  server = await startTestServer({ rollouts: true });
  tenant = uniqueTenant('api');
  service = `checkout-${randomUUID().slice(0, 6)}`;
  await server.store.put({ tenantId: tenant, key: KEY }, '{"v":1}', { expectedVersion: 0, makeLive: true });
  for (const tenancy of [tenant, 'pool']) {
    instances.push(
      await startInstance({ server, clients, service, tenancy, preload: [{ tenantId: tenant, key: KEY }] }),
    );
  }
}, 120_000);

afterAll(async () => {
  await Promise.all(instances.map((instance) => instance.client.stop()));
  await server.stop();
});

const api = (method: string, path: string, token: string | undefined, body?: unknown) =>
  callApi(server.httpUrl, method, path, token, body);

async function waitForState(rolloutId: string, state: string): Promise<Record<string, unknown>> {
  for (let i = 0; i < 300; i += 1) {
    const { body } = await api('GET', `/v1/rollouts/${rolloutId}`, operator());
    if (body.state === state) return body;
    await sleep(100);
  }
  throw new Error(`rollout ${rolloutId} never reached ${state}`);
}

const gatedPlan = {
  strategy: { kind: 'explicit', waves: [1, '100%'] },
  bakeSeconds: 0,
  approval: 'after-first-wave',
};

test('a release manager starts a gated rollout, approves it, and reads its history with the actors', async () => {
  const started = await api('POST', '/v1/rollouts', releaseManager(), {
    key: KEY,
    value: '{"v":2}',
    targetServices: [service],
    plan: gatedPlan,
  });
  expect(started.status).toBe(202);
  const rolloutId = started.body.rolloutId as string;
  expect(started.headers.get('location')).toBe(`/v1/rollouts/${rolloutId}`);

  const waiting = await waitForState(rolloutId, 'AWAITING_APPROVAL');
  expect(waiting).toMatchObject({
    key: KEY,
    candidateVersion: 2,
    previousVersion: 1,
    instances: { total: 2, updated: 1 },
  });

  const refused = await api('POST', `/v1/rollouts/${rolloutId}/approve`, operator(), {});
  expect(refused.status).toBe(403);
  expect(refused.body.detail).toMatch(/release-managers/);

  const approved = await api('POST', `/v1/rollouts/${rolloutId}/approve`, releaseManager('bob'), {
    reason: 'canary fine',
  });
  expect(approved.status).toBe(200);
  expect(approved.body.state).not.toBe('AWAITING_APPROVAL');
  await waitForState(rolloutId, 'SUCCEEDED');

  const { body } = await api('GET', `/v1/rollouts/${rolloutId}/history`, operator());
  const timeline = body.items as { kind: string; actor?: string; summary: string }[];
  expect(timeline[0]).toMatchObject({ kind: 'started', actor: 'alice' });
  expect(timeline).toContainEqual(
    expect.objectContaining({ kind: 'action', actor: 'bob', summary: 'bob asked to approve: canary fine' }),
  );
  expect(timeline.filter((entry) => entry.kind === 'push').map((entry) => entry.summary)).toEqual([
    'pushed version 2 to 1 instance(s): 1 ok, 0 failed',
    'pushed version 2 to 1 instance(s): 1 ok, 0 failed',
  ]);
  expect(timeline.at(-1)).toMatchObject({ kind: 'finished', state: 'SUCCEEDED' });

  // The list comes from Temporal's visibility store, which catches up with the end state within moments.
  const listedState = async () => {
    const listed = await api('GET', `/v1/rollouts?key=${KEY}`, operator());
    expect(listed.status).toBe(200);
    return (listed.body.items as { rolloutId: string; state: string }[]).find(
      (r) => r.rolloutId === rolloutId,
    )?.state;
  };
  let state = await listedState();
  for (let attempt = 0; attempt < 40 && state !== 'SUCCEEDED'; attempt += 1) {
    await sleep(250);
    state = await listedState();
  }
  expect(state).toBe('SUCCEEDED');
});

test("a release manager rolls out a key's removal: instances forget it, no read brings it back, then it is gone", async () => {
  const SUNSET = 'tenant_config_sunset';
  const address = { tenantId: tenant, key: SUNSET };
  await server.store.put(address, '{"legacyCheckout":true}', { expectedVersion: 0, makeLive: true });
  // This instance checks its versions against ConfigService every 200 ms, bakes included, while the store
  // still holds the key (it is deleted only after the last wave).
  const checking = await startInstance({
    server,
    clients,
    service,
    tenancy: tenant,
    preload: [address],
    versionCheckIntervalMs: 200,
  });
  instances.push(checking);
  const changes: { cause: string; version: number }[] = [];
  checking.client.onChange(SUNSET, (change) => {
    changes.push({ cause: change.cause, version: change.heldVersion });
  });
  expect((await checking.client.get(tenant, SUNSET))?.version).toBe(1);

  const started = await api('POST', '/v1/rollouts', releaseManager(), {
    key: SUNSET,
    remove: true,
    targetServices: [service],
    plan: { strategy: { kind: 'explicit', waves: [1, '100%'] }, bakeSeconds: 2 },
  });
  expect(started.status).toBe(202);
  await waitForState(started.body.rolloutId as string, 'SUCCEEDED');

  expect(changes).toEqual([{ cause: 'push', version: 0 }]);
  for (const member of instances) expect(await member.client.get(tenant, SUNSET)).toBeUndefined();
  await expect(server.store.getLive(address)).rejects.toMatchObject({ code: 'NotFound' });
  const again = await api('POST', '/v1/rollouts', releaseManager(), {
    key: SUNSET,
    remove: true,
    targetServices: [service],
  });
  expect(again).toMatchObject({ status: 404, body: { title: 'NotFound' } });
});

test('a rollout an operator terminated in Temporal reads as FAILED, saying so and no more', async () => {
  const started = await api('POST', '/v1/rollouts', releaseManager(), {
    key: KEY,
    value: '{"v":"terminated"}',
    targetServices: [service],
    plan: { ...gatedPlan },
  });
  expect(started.status).toBe(202);
  const rolloutId = started.body.rolloutId as string;
  await waitForState(rolloutId, 'AWAITING_APPROVAL');
  await server.temporal!.workflow.getHandle(started.body.workflowId as string).terminate('stuck canary');

  const view = await api('GET', `/v1/rollouts/${rolloutId}`, operator());
  expect(view.body).toMatchObject({ state: 'FAILED', outcome: 'failed: terminated by an operator' });
  // Terminated mid-wave, it left the canary on the candidate: a new rollout puts the fleet right.
  const again = await api('POST', '/v1/rollouts', releaseManager(), {
    key: KEY,
    value: '{"v":"after-termination"}',
    targetServices: [service],
    plan: { strategy: { kind: 'explicit', waves: ['100%'] }, bakeSeconds: 0 },
  });
  expect(again.status).toBe(202);
  await waitForState(again.body.rolloutId as string, 'SUCCEEDED');
  for (const member of instances) {
    expect((await member.client.get(tenant, KEY))?.value).toBe('{"v":"after-termination"}');
  }
});

test('another tenant sees none of it: not found by id, nothing listed', async () => {
  const started = await api('POST', '/v1/rollouts', releaseManager(), {
    key: KEY,
    value: '{"v":3}',
    targetServices: [service],
    plan: { ...gatedPlan },
  });
  const rolloutId = started.body.rolloutId as string;
  const stranger = validToken({ tenantId: uniqueTenant('stranger'), groups: ['release-managers'] });
  expect((await api('GET', `/v1/rollouts/${rolloutId}`, stranger)).status).toBe(404);
  expect((await api('POST', `/v1/rollouts/${rolloutId}/abort`, stranger, {})).status).toBe(404);
  expect((await api('GET', '/v1/rollouts', stranger)).body.items).toEqual([]);

  await waitForState(rolloutId, 'AWAITING_APPROVAL');
  const second = await api('POST', '/v1/rollouts', releaseManager(), {
    key: KEY,
    value: '{"v":4}',
    targetServices: [service],
  });
  expect(second.status).toBe(409);
  expect(second.body.title).toBe('RolloutInProgress');

  const early = await api('POST', `/v1/rollouts/${rolloutId}/resume`, releaseManager(), {});
  expect(early.status).toBe(409);
  expect(early.body).toMatchObject({
    title: 'RolloutStateConflict',
    detail: 'cannot resume: rollout is not paused',
  });

  const aborted = await api('POST', `/v1/rollouts/${rolloutId}/abort`, releaseManager('carol'), {
    reason: 'not today',
  });
  expect(aborted.status).toBe(200);
  const done = await waitForState(rolloutId, 'ROLLED_BACK');
  expect(done.audit).toContainEqual(
    expect.objectContaining({ action: 'abort', actor: 'carol', reason: 'not today' }),
  );
});

test('server-sent events stream progress until the rollout ends', async () => {
  const started = await api('POST', '/v1/rollouts', releaseManager(), {
    key: KEY,
    value: '{"v":5}',
    targetServices: [service],
    plan: { strategy: { kind: 'explicit', waves: [1, '100%'] }, bakeSeconds: 1 },
  });
  const response = await fetch(`${server.httpUrl}/v1/rollouts/${started.body.rolloutId as string}/events`, {
    headers: { authorization: `Bearer ${operator()}` },
  });
  expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const stream = await response.text();
  const events = [...stream.matchAll(/event: (\w+)\ndata: (.*)\n\n/g)].map(([, event, data]) => ({
    event,
    data: JSON.parse(data!) as { state: string },
  }));
  expect(events.at(-1)).toEqual({ event: 'end', data: { state: 'SUCCEEDED' } });
  const states = events.filter((e) => e.event === 'progress').map((e) => e.data.state);
  expect(states.at(-1)).toBe('SUCCEEDED');
  expect(states.length).toBeGreaterThan(1);
});

test('the Temporal CLI finds the rollouts by tenant and key', async () => {
  const started = await api('POST', '/v1/rollouts', releaseManager(), {
    key: KEY,
    value: '{"v":6}',
    targetServices: [service],
    plan: { strategy: { kind: 'explicit', waves: ['100%'] }, bakeSeconds: 0 },
  });
  await waitForState(started.body.rolloutId as string, 'SUCCEEDED');
  const { stdout } = await run(toolPath('temporal'), [
    'workflow',
    'list',
    '--address',
    process.env.TEMPORAL_ADDRESS!,
    '--query',
    `TenantId="${tenant}" AND ConfigKey="${KEY}"`,
    '--output',
    'json',
  ]);
  const listed = JSON.parse(stdout) as { execution: { workflowId: string; runId: string } }[];
  expect(listed.map((entry) => entry.execution.runId)).toContain(
    (started.body.rolloutId as string).split('~')[0],
  );
  expect(new Set(listed.map((entry) => entry.execution.workflowId))).toEqual(
    new Set([`rollout:${tenant}:-:${KEY}`]),
  );
});

describe('bad requests get a problem naming the field', () => {
  test.each([
    ['both value and version', { key: KEY, value: '{}', version: 1, targetServices: ['x'] }, 'value'],
    ['neither value nor version', { key: KEY, targetServices: ['x'] }, 'value'],
    ['a removal with a value', { key: KEY, value: '{}', remove: true, targetServices: ['x'] }, 'value'],
    ['remove: false', { key: KEY, remove: false, targetServices: ['x'] }, 'remove'],
    [
      'a plan field out of range',
      { key: KEY, value: '{}', targetServices: ['x'], plan: { bakeSeconds: -1 } },
      'plan.bakeSeconds',
    ],
    ['an unknown field', { key: KEY, value: '{}', targetServices: ['x'], force: true }, 'force'],
    ['a tenant-wide key without targets', { key: KEY, value: '{}' }, 'targetServices'],
    ['an unsafe key', { key: '../etc', value: '{}', targetServices: ['x'] }, 'key'],
    ['a value that is not JSON', { key: KEY, value: '{nope', targetServices: ['x'] }, 'value'],
  ])('%s', async (_name, body, field) => {
    const { status, body: problem, headers } = await api('POST', '/v1/rollouts', releaseManager(), body);
    expect(status).toBe(400);
    expect(headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(problem.field).toBe(field);
  });

  test('an id that is not a rollout id', async () => {
    const { status, body } = await api('GET', '/v1/rollouts/not-an-id', operator());
    expect(status).toBe(400);
    expect(body.field).toBe('rolloutId');
  });

  test('/openapi.json is served without a token', async () => {
    const { status, body } = await api('GET', '/openapi.json', undefined);
    expect(status).toBe(200);
    expect(body.openapi).toBe('3.0.3');
  });
});
