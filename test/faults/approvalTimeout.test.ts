import { randomUUID } from 'node:crypto';
import type { ConfigAddress } from '../../common/configAddress';
import type { rolloutWorkflow } from '../../workflows/rolloutWorkflow';
import { stackClients, uniqueTenant } from '../support/env';
import { type FleetMember, startInstance } from '../support/fleet';
import { runCfgctl } from '../support/cli';
import { callApi } from '../support/restApi';
import { startTestServer, type TestServer } from '../support/server';
import { validToken } from '../support/tokens';
import { until } from '../support/until';

/**
 * Approvals that expire, on the real stack (REST, Temporal dev server, DynamoDB on moto, SDK instances):
 * a canary nobody approves within plan.approvalTimeoutSeconds rolls back on its own, every instance back
 * on the previous version and live unchanged, and says why; one approved in time completes. The long
 * default waits are in test/workflows/approvalTimeout.test.ts, on the time-skipping server.
 */
const KEY = 'tenant_config_featureFlags';

let server: TestServer;
const clients = stackClients();
const instances: FleetMember[] = [];
const service = `approvals-${randomUUID().slice(0, 6)}`;
const tenantId = uniqueTenant('approval');
const address: ConfigAddress = { tenantId, key: KEY };
const alice = validToken({ tenantId, groups: ['release-managers'], subject: 'alice' });
const bob = validToken({ tenantId, groups: ['release-managers'], subject: 'bob' });

beforeAll(async () => {
  server = await startTestServer({ rollouts: true });
  await server.store.put(address, '{"v":1}', { expectedVersion: 0, makeLive: true });
  for (const tenancy of [tenantId, 'pool']) {
    instances.push(await startInstance({ server, clients, service, tenancy, preload: [address] }));
  }
}, 120_000);

afterAll(async () => {
  await Promise.all(instances.map((instance) => instance.client.stop()));
  await server?.stop();
});

const held = () =>
  Promise.all(instances.map(async (member) => (await member.client.get(tenantId, KEY))?.version));

/** Canary, then the rest once approved; no bake. */
const startGated = (value: string, approvalTimeoutSeconds: number) =>
  callApi(server.httpUrl, 'POST', '/v1/rollouts', alice, {
    key: KEY,
    value,
    targetServices: [service],
    plan: {
      strategy: { kind: 'explicit', waves: [1, '100%'] },
      bakeSeconds: 0,
      approval: 'after-first-wave',
      approvalTimeoutSeconds,
    },
  });

const resultOf = (workflowId: string) =>
  server.temporal!.workflow.getHandle<typeof rolloutWorkflow>(workflowId).result();

test('a canary left unapproved past plan.approvalTimeoutSeconds rolls back: instances on the previous version, live unchanged, the reason in status and history', async () => {
  const live = (await server.store.getLive(address)).version;
  const started = await startGated('{"v":"unapproved"}', 2);
  expect(started.status).toBe(202);
  const rolloutId = started.body.rolloutId as string;
  const waiting = await until('the canary awaits approval', async () => {
    const view = await callApi(server.httpUrl, 'GET', `/v1/rollouts/${rolloutId}`, alice);
    return view.body.state === 'AWAITING_APPROVAL' ? view.body : undefined;
  });
  expect(waiting.approvalDeadline).toEqual(expect.any(String));

  const result = await resultOf(started.body.workflowId as string);
  const reason = "approval timed out after 2s: wave 1 of 2 was not approved within the plan's bound (2 s)";
  expect(result).toMatchObject({ state: 'ROLLED_BACK', liveVersion: live, revertedInstances: 1, reason });
  expect(await held()).toEqual([live, live]);
  expect(await server.store.getLive(address)).toMatchObject({ version: live, value: '{"v":1}' });

  const status = await callApi(server.httpUrl, 'GET', `/v1/rollouts/${rolloutId}`, alice);
  expect(status.body).toMatchObject({ state: 'ROLLED_BACK', outcome: `rolled back: ${reason}` });
  expect((status.body.audit as unknown[]).at(-1)).toMatchObject({
    action: 'abort',
    actor: 'approval-timeout',
    reason,
  });
  const history = await callApi(server.httpUrl, 'GET', `/v1/rollouts/${rolloutId}/history`, alice);
  const items = history.body.items as { kind: string; summary: string }[];
  expect(items.find((item) => item.kind === 'wait')?.summary).toMatch(
    /^waiting for approval until \S+ \(2 s\)/,
  );
  expect(items.at(-1)).toMatchObject({ kind: 'finished', summary: `rolled back: ${reason}` });
});

test('a canary approved before its deadline completes: every instance and live on the new version', async () => {
  const live = (await server.store.getLive(address)).version;
  const started = await startGated('{"v":"approved"}', 600);
  const rolloutId = started.body.rolloutId as string;
  await until('the canary awaits approval', async () => {
    const view = await callApi(server.httpUrl, 'GET', `/v1/rollouts/${rolloutId}`, alice);
    return view.body.state === 'AWAITING_APPROVAL' ? true : undefined;
  });
  const approved = await callApi(server.httpUrl, 'POST', `/v1/rollouts/${rolloutId}/approve`, bob, {});
  expect(approved.status).toBe(200);
  const result = await resultOf(started.body.workflowId as string);
  expect(result).toMatchObject({ state: 'SUCCEEDED', updatedInstances: 2 });
  expect(await held()).toEqual([result.candidateVersion, result.candidateVersion]);
  expect((await server.store.getLive(address)).version).toBe(result.candidateVersion);
  expect(result.candidateVersion).toBeGreaterThan(live);
});

test('abuse: an approval timeout past the 72 h bound on holds, or not a whole number of seconds, is refused naming the field; nothing is written', async () => {
  const written = (await server.store.history(address)).length;
  for (const approvalTimeoutSeconds of [259_201, 0, 1.5]) {
    const refused = await startGated('{"v":"held"}', approvalTimeoutSeconds);
    expect(refused.status).toBe(400);
    expect(JSON.stringify(refused.body)).toMatch(/approvalTimeoutSeconds/);
  }
  expect(await server.store.history(address)).toHaveLength(written);
});

test('cfgctl: --approval-timeout 2s, left unapproved: the watch shows the deadline, then the rollback and its reason (exit 8)', async () => {
  const live = (await server.store.getLive(address)).version;
  const watched = await runCfgctl(
    server.httpUrl,
    [
      'rollout',
      'start',
      KEY,
      '--value',
      '{"v":"watched"}',
      '--target',
      service,
      '--waves',
      '1,100%',
      '--bake',
      '0',
      '--approval',
      'after-first-wave',
      '--approval-timeout',
      '2s',
      '--watch',
    ],
    alice,
  );
  expect(watched.code).toBe(8);
  expect(watched.stdout).toMatch(/approval due by \S+: unapproved then, it rolls back/);
  expect(watched.stdout).toMatch(
    /outcome rolled back: approval timed out after 2s: wave 1 of 2 was not approved within the plan's bound \(2 s\)/,
  );
  expect(await held()).toEqual([live, live]);
});
