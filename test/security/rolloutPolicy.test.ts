import { setTimeout as sleep } from 'node:timers/promises';
import { DeleteParameterCommand, PutParameterCommand } from '@aws-sdk/client-ssm';
import { WorkflowFailedError, WorkflowNotFoundError } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { VersionConflictError } from '../../common/errors';
import { type RolloutRequest, rolloutWorkflowId } from '../../common/rollout';
import {
  type ParameterStoreChange,
  parseParameterStoreChange,
} from '../../lambdas/parameterStoreChangeEvent';
import { rollOutParameterChange } from '../../lambdas/rollOutParameterChange';
import { startRollout } from '../../rolloutClient';
import { runCfgctl } from '../support/cli';
import { stackClients, uniqueTenant } from '../support/env';
import { type FleetMember, registerDeadInstance, startInstance } from '../support/fleet';
import { callApi } from '../support/restApi';
import { startTestServer, type TestServer } from '../support/server';
import { validToken } from '../support/tokens';
import { allAtOnce } from '../support/plans';

/**
 * Rollout policy against the real stack (Temporal dev server, in-process worker, moto, real SDK
 * instances): the one-rollout lock, live never moving back, four-eyes approval, bounded holds, and
 * progress that names instances, never their addresses.
 */
const FIXTURES = path.join(__dirname, '..', '..', '..', 'shared', 'fixtures');
let server: TestServer;
let tenant: string;
let service: string;
const clients = stackClients();
const instances: FleetMember[] = [];

const releaseManager = (subject = 'alice') =>
  validToken({ tenantId: tenant, groups: ['release-managers'], subject });
const operator = () => validToken({ tenantId: tenant, groups: ['operators'], subject: 'olivia' });
const api = (method: string, path: string, token: string, body?: unknown) =>
  callApi(server.httpUrl, method, path, token, body);

/** A tenant-wide key of its own per test, live at version 1 and held by the instances. */
async function freshKey(): Promise<string> {
  const key = `tenant_config_p${randomUUID().slice(0, 8)}`;
  await server.store.put({ tenantId: tenant, key }, '{"v":1}', { expectedVersion: 0, makeLive: true });
  return key;
}

const gated = {
  strategy: { kind: 'explicit', waves: [1, '100%'] },
  bakeSeconds: 0,
  approval: 'after-first-wave',
};

async function start(key: string, body: Record<string, unknown>, token = releaseManager()) {
  return api('POST', '/v1/rollouts', token, { key, targetServices: [service], ...body });
}

async function waitForState(rolloutId: string, ...states: string[]): Promise<Record<string, unknown>> {
  for (let i = 0; i < 600; i += 1) {
    const { body } = await api('GET', `/v1/rollouts/${rolloutId}`, operator());
    if (states.includes(body.state as string)) return body;
    await sleep(100);
  }
  throw new Error(`rollout ${rolloutId} never reached ${states.join(' or ')}`);
}

beforeAll(async () => {
  server = await startTestServer({ rollouts: true });
  tenant = uniqueTenant('policy');
  service = `policy-${randomUUID().slice(0, 6)}`;
  for (const tenancy of [tenant, 'pool']) {
    instances.push(await startInstance({ server, clients, service, tenancy, preload: [] }));
  }
}, 120_000);

afterAll(async () => {
  await Promise.all(instances.map((instance) => instance.client.stop()));
  await server?.stop();
});

describe('one rollout per stored key', () => {
  test('naming a service on a tenant-wide key is no second lock: the second rollout is refused', async () => {
    const key = await freshKey();
    const first = await start(key, { value: '{"v":2}', plan: gated });
    expect(first.status).toBe(202);
    await waitForState(first.body.rolloutId as string, 'AWAITING_APPROVAL');

    const second = await start(key, { value: '{"v":3}', service, plan: gated });
    // Refused either as the same key's rollout (409) or as a malformed address (400): never started.
    expect([400, 409]).toContain(second.status);
    expect(second.body.rolloutId).toBeUndefined();
    const listed = await api('GET', `/v1/rollouts?key=${key}`, operator());
    const running = (listed.body.items as { rolloutId: string }[]).map((item) => item.rolloutId);
    expect(running.filter((id) => id !== first.body.rolloutId)).toEqual([]);

    await api('POST', `/v1/rollouts/${first.body.rolloutId as string}/abort`, releaseManager('bob'), {});
    await waitForState(first.body.rolloutId as string, 'ROLLED_BACK');
  });

  test('a workflow started with a service on a tenant-wide key fails before it writes or pushes', async () => {
    const key = await freshKey();
    const request: RolloutRequest = {
      tenantId: tenant,
      key,
      service,
      change: { kind: 'set', value: '{"v":99}' },
      targetServices: [service],
      plan: allAtOnce(),
      actor: 'mallory',
    };
    const handle = await startRollout(server.temporal!, request, server.taskQueue);
    const outcome = handle.result();
    await expect(outcome).rejects.toBeInstanceOf(WorkflowFailedError);
    await expect(outcome).rejects.toHaveProperty('cause.cause.message', expect.stringMatching(/service/));
    expect((await server.store.history({ tenantId: tenant, key })).map((entry) => entry.version)).toEqual([
      1,
    ]);
  });
});

describe('the live version never moves backwards', () => {
  test.each<[string, () => { tenantId: string; key: string; service?: string }]>([
    ['DynamoDB', () => ({ tenantId: tenant, key: `tenant_config_b${randomUUID().slice(0, 6)}` })],
    [
      'Parameter Store',
      () => ({ tenantId: tenant, key: `param_config_b${randomUUID().slice(0, 6)}`, service }),
    ],
  ])('%s refuses to promote a version older than the live one', async (_backend, addressOf) => {
    const address = addressOf();
    const value = address.service ? 'one' : '{"v":1}';
    await server.store.put(address, value, { expectedVersion: 0, makeLive: true });
    await server.store.put(address, address.service ? 'two' : '{"v":2}', {
      expectedVersion: 1,
      makeLive: true,
    });

    await expect(server.store.promote(address, 1)).rejects.toBeInstanceOf(VersionConflictError);
    expect((await server.store.getLive(address)).version).toBe(2);
    // Promoting the live version again (a retried activity) is not a conflict.
    await expect(server.store.promote(address, 2)).resolves.toBeUndefined();
  });

  test('a rollout whose candidate was overtaken by a newer live version is not promoted: it rolls back', async () => {
    const key = await freshKey();
    const started = await start(key, { value: '{"v":2}', plan: gated });
    const rolloutId = started.body.rolloutId as string;
    await waitForState(rolloutId, 'AWAITING_APPROVAL');
    // Meanwhile version 3 goes live directly (a write made outside the rollout).
    await server.store.put({ tenantId: tenant, key }, '{"v":3}', { expectedVersion: 2, makeLive: true });

    await api('POST', `/v1/rollouts/${rolloutId}/approve`, releaseManager('bob'), {});
    const done = await waitForState(rolloutId, 'ROLLED_BACK', 'SUCCEEDED', 'FAILED');
    expect(done.state).toBe('ROLLED_BACK');
    expect(done.outcome).toMatch(/not promoted: version conflict/);
    expect(await server.store.getLive({ tenantId: tenant, key })).toMatchObject({ version: 3 });
  });

  test('rolling out an older version rolls forward to a copy of it, which every instance applies', async () => {
    const key = await freshKey();
    const plan = { strategy: { kind: 'explicit', waves: ['100%'] }, bakeSeconds: 0 };
    const forward = await start(key, { value: '{"v":2}', plan });
    await waitForState(forward.body.rolloutId as string, 'SUCCEEDED');

    const back = await start(key, { version: 1, plan });
    expect(back.status).toBe(202);
    const done = await waitForState(back.body.rolloutId as string, 'SUCCEEDED', 'ROLLED_BACK', 'FAILED');
    expect(done).toMatchObject({ state: 'SUCCEEDED', candidateVersion: 3, copyOf: 1, previousVersion: 2 });
    expect(done.outcome).toMatch(/^version 3 \(a copy of version 1\) is live on 2 of 2 instances/);

    expect(await server.store.getLive({ tenantId: tenant, key })).toMatchObject({
      version: 3,
      value: '{"v":1}',
    });
    for (const instance of instances) {
      expect(await instance.client.get(tenant, key)).toMatchObject({ version: 3, value: '{"v":1}' });
    }
    const history = await api('GET', `/v1/configs/${key}/history`, operator());
    expect(history.body.items).toContainEqual(expect.objectContaining({ version: 3, copyOf: 1, live: true }));
  });
});

describe('four-eyes approval', () => {
  test('the release manager who started a rollout cannot approve it; another can', async () => {
    const key = await freshKey();
    const started = await start(key, { value: '{"v":2}', plan: gated });
    const rolloutId = started.body.rolloutId as string;
    await waitForState(rolloutId, 'AWAITING_APPROVAL');

    const own = await api('POST', `/v1/rollouts/${rolloutId}/approve`, releaseManager('alice'), {});
    expect(own.status).toBe(403);
    expect(own.body.detail).toMatch(/four-eyes/);
    const cli = await runCfgctl(server.httpUrl, ['rollout', 'approve', rolloutId], releaseManager('alice'));
    expect(cli.code).toBe(4);
    expect(cli.stderr).toMatch(/^error: PermissionDenied: four-eyes rule: alice started this rollout/);
    expect((await waitForState(rolloutId, 'AWAITING_APPROVAL')).audit).toHaveLength(1);

    const other = await api('POST', `/v1/rollouts/${rolloutId}/approve`, releaseManager('bob'), {});
    expect(other.status).toBe(200);
    await waitForState(rolloutId, 'SUCCEEDED');
  });

  test('a plan with allowSelfApproval lets its starter approve', async () => {
    const key = await freshKey();
    const started = await start(key, { value: '{"v":2}', plan: { ...gated, allowSelfApproval: true } });
    const rolloutId = started.body.rolloutId as string;
    await waitForState(rolloutId, 'AWAITING_APPROVAL');
    const own = await api('POST', `/v1/rollouts/${rolloutId}/approve`, releaseManager('alice'), {});
    expect(own.status).toBe(200);
    await waitForState(rolloutId, 'SUCCEEDED');
  });
});

describe('a held rollout cannot hold the shared fleet for long', () => {
  test('a pause past the plan bound rolls back on its own, with the reason recorded', async () => {
    const key = await freshKey();
    const started = await start(key, {
      value: '{"v":2}',
      plan: { ...gated, approval: 'none', bakeSeconds: 1, maxPauseSeconds: 1 },
    });
    const rolloutId = started.body.rolloutId as string;
    await waitForState(rolloutId, 'BAKING');
    expect((await api('POST', `/v1/rollouts/${rolloutId}/pause`, releaseManager('bob'), {})).status).toBe(
      200,
    );
    const done = await waitForState(rolloutId, 'ROLLED_BACK', 'SUCCEEDED');
    expect(done).toMatchObject({ state: 'ROLLED_BACK' });
    expect(done.outcome).toMatch(/paused for longer than the plan allows \(1 s\)/);
    expect((await server.store.getLive({ tenantId: tenant, key })).version).toBe(1);
  });

  test('an approval not given within the bound rolls back', async () => {
    const key = await freshKey();
    const started = await start(key, { value: '{"v":2}', plan: { ...gated, maxPauseSeconds: 1 } });
    const done = await waitForState(started.body.rolloutId as string, 'ROLLED_BACK', 'SUCCEEDED');
    expect(done.outcome).toMatch(/not approved within the plan's bound \(1 s\)/);
  });

  test('bakes longer than an hour and unbounded pauses are refused at start, naming the field', async () => {
    const key = await freshKey();
    const bake = await start(key, { value: '{"v":2}', plan: { bakeSeconds: 3601 } });
    expect(bake.status).toBe(400);
    expect(JSON.stringify(bake.body)).toMatch(/bakeSeconds/);
    const pause = await start(key, { value: '{"v":2}', plan: { maxPauseSeconds: 30 * 24 * 3600 } });
    expect(pause.status).toBe(400);
    expect(JSON.stringify(pause.body)).toMatch(/maxPauseSeconds/);
  });
});

test('a failed pooled instance is named by id in tenant-visible progress, never by its address', async () => {
  const key = await freshKey();
  const dead = await registerDeadInstance(clients, service, 'zz-dead');
  try {
    const started = await start(key, {
      value: '{"v":2}',
      plan: {
        strategy: { kind: 'explicit', waves: ['100%'] },
        bakeSeconds: 0,
        push: { timeoutMs: 500, attempts: 1, concurrency: 4 },
      },
    });
    const done = await waitForState(started.body.rolloutId as string, 'ROLLED_BACK', 'SUCCEEDED');
    const failed = done.failedInstances as { instanceId: string; reason: string }[];
    expect(failed).toEqual([
      { instanceId: `${service}/zz-dead`, reason: expect.stringMatching(/UNAVAILABLE/) as unknown },
    ]);
    // gRPC's own words were `connect ECONNREFUSED 127.0.0.1:{port}`.
    expect(failed[0]!.reason).not.toContain(String(dead.port));
    expect(JSON.stringify(done)).not.toContain('127.0.0.1');
  } finally {
    await dead.deregister();
  }
});

describe('config history comes a page at a time', () => {
  test('a long history answers a bounded page with a token; cfgctl follows every page', async () => {
    const key = await freshKey();
    for (let version = 1; version < 25; version += 1) {
      await server.store.put({ tenantId: tenant, key }, `{"v":${version + 1}}`, {
        expectedVersion: version,
        makeLive: false,
      });
    }
    const first = await api('GET', `/v1/configs/${key}/history`, operator());
    expect(first.status).toBe(200);
    const firstItems = first.body.items as { version: number }[];
    expect(firstItems.map((item) => item.version)).toEqual(Array.from({ length: 20 }, (_, i) => 25 - i));
    const token = first.body.nextPageToken as string;
    expect(token).toEqual(expect.any(String));
    const second = await api(
      'GET',
      `/v1/configs/${key}/history?pageToken=${encodeURIComponent(token)}`,
      operator(),
    );
    expect((second.body.items as { version: number }[]).map((item) => item.version)).toEqual([5, 4, 3, 2, 1]);
    expect(second.body.nextPageToken).toBeUndefined();
    expect(second.body.items).toContainEqual(expect.objectContaining({ version: 1, live: true }));

    const all = await runCfgctl(server.httpUrl, ['--json', 'config', 'history', key], operator());
    expect(all.code).toBe(0);
    const printed = JSON.parse(all.stdout) as { items: { version: number }[] };
    expect(printed.items.map((item) => item.version)).toEqual(Array.from({ length: 25 }, (_, i) => 25 - i));
  });

  test('a page larger than the maximum, or a token of another key, is refused naming the field', async () => {
    const key = await freshKey();
    const other = await freshKey();
    await server.store.put({ tenantId: tenant, key: other }, '{"v":2}', {
      expectedVersion: 1,
      makeLive: false,
    });
    const tooLarge = await api('GET', `/v1/configs/${key}/history?pageSize=101`, operator());
    expect(tooLarge.status).toBe(400);
    expect(tooLarge.body.field).toBe('pageSize');
    const page = await api('GET', `/v1/configs/${other}/history?pageSize=1`, operator());
    const foreign = encodeURIComponent(page.body.nextPageToken as string);
    const misused = await api('GET', `/v1/configs/${key}/history?pageToken=${foreign}`, operator());
    expect(misused.status).toBe(400);
    expect(misused.body.field).toBe('pageToken');
  });

  test('Parameter Store histories page the same way', async () => {
    const address = { tenantId: tenant, key: `param_config_h${randomUUID().slice(0, 6)}`, service };
    for (let version = 0; version < 3; version += 1) {
      await server.store.put(address, `v${version + 1}`, { expectedVersion: version, makeLive: true });
    }
    const path = `/v1/configs/${address.key}/history?service=${service}&pageSize=2`;
    const first = await api('GET', path, operator());
    expect((first.body.items as { version: number }[]).map((item) => item.version)).toEqual([3, 2]);
    const next = encodeURIComponent(first.body.nextPageToken as string);
    const second = await api('GET', `${path}&pageToken=${next}`, operator());
    expect(second.body).toEqual({ items: [expect.objectContaining({ version: 1, value: 'v1' })] });
  });
});

test('a Parameter Store event naming a tenant-wide key is dropped: the DynamoDB key of that name is not rolled out', async () => {
  const key = await freshKey();
  // A DynamoDB version not live yet: what a lookalike event would otherwise get rolled out.
  await server.store.put({ tenantId: tenant, key }, '{"v":"unreviewed"}', {
    expectedVersion: 1,
    makeLive: false,
  });
  const name = `/config-service/${tenant}/${service}/${key}`;
  await clients.ssm.send(new PutParameterCommand({ Name: name, Value: '{"v":"lookalike"}', Type: 'String' }));
  const logged: Record<string, unknown>[] = [];
  const deps = {
    store: server.store,
    temporal: server.temporal!,
    taskQueue: server.taskQueue!,
    plans: server.plans,
    plan: {
      strategy: { kind: 'explicit' as const, waves: ['100%' as const] },
      bakeSeconds: 0,
      approval: 'none' as const,
      maxFailures: 0,
    },
    log: (_message: string, fields: Record<string, unknown>) => logged.push(fields),
  };
  for (const file of ['ssm-change-create.json', 'ssm-change-update.json', 'ssm-change-label.json']) {
    const event = JSON.parse(readFileSync(path.join(FIXTURES, file), 'utf8')) as ParameterStoreChange;
    const change = parseParameterStoreChange({ ...event, detail: { ...event.detail, name } });
    // Answered, not thrown: EventBridge does not retry it.
    await expect(rollOutParameterChange(change, deps)).resolves.toEqual({
      outcome: 'ignored',
      reason: `${name} is not a platform config key: "tenant_config_" keys are tenant-wide: send no service with them`,
    });
  }
  expect(logged).toHaveLength(3);
  const lock = rolloutWorkflowId({ tenantId: tenant, key });
  await expect(server.temporal!.workflow.getHandle(lock).describe()).rejects.toBeInstanceOf(
    WorkflowNotFoundError,
  );
  expect(await server.store.getLive({ tenantId: tenant, key })).toMatchObject({
    version: 1,
    value: '{"v":1}',
  });
  await clients.ssm.send(new DeleteParameterCommand({ Name: name }));
});
