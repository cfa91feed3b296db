import { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { rolloutWorkflowId } from '../../common/rollout';
import { startRollout } from '../../rolloutClient';
import { formatRolloutId } from '../../server/rollouts/rolloutService';
import { temporalUiUrl, toolPath } from '../../scripts/stack/index';
import { stackClients, uniqueTenant } from '../support/env';
import { type FleetMember, startInstance } from '../support/fleet';
import { callApi } from '../support/restApi';
import { startTestServer, type TestServer } from '../support/server';
import { base64Forms, payloadsIn } from '../support/historyPayloads';
import { validToken } from '../support/tokens';

/**
 * Config values at rest in Temporal: whoever can read workflow histories (Temporal's operators, its UI
 * and CLI) sees only ciphertext, and the codec endpoint that opens them answers platform operators only.
 * Against the real stack: Temporal dev server, in-process worker, a real SDK instance, the real CLI.
 */
const run = promisify(execFile);
const KEY = 'tenant_config_paymentProvider';
// Only [a-z0-9-]: it appears verbatim wherever a JSON string of it does.
const DISTINCTIVE = `zq-at-rest-${randomUUID()}`;

let server: TestServer;
let tenant: string;
let workflowId: string;
let rawHistory: temporal.api.history.v1.IHistory;
const clients = stackClients();
const instances: FleetMember[] = [];

const releaseManager = () => validToken({ tenantId: tenant, groups: ['release-managers'], subject: 'rita' });
const platformOperator = () =>
  validToken({ tenantId: 'platform', groups: ['config-platform-operators'], subject: 'paula' });
const codecCall = (direction: 'decode' | 'encode', token: string | undefined, body: unknown) =>
  callApi(server.httpUrl, 'POST', `/codec/${direction}`, token, body);

beforeAll(async () => {
  server = await startTestServer({ rollouts: true });
  tenant = uniqueTenant('atrest');
  const service = `payments-${randomUUID().slice(0, 6)}`;
  await server.store.put({ tenantId: tenant, key: KEY }, '{"provider":"old"}', {
    expectedVersion: 0,
    makeLive: true,
  });
  instances.push(
    await startInstance({
      server,
      clients,
      service,
      tenancy: tenant,
      preload: [{ tenantId: tenant, key: KEY }],
    }),
  );

  const started = await callApi(server.httpUrl, 'POST', '/v1/rollouts', releaseManager(), {
    key: KEY,
    value: JSON.stringify({ provider: 'new', apiKey: DISTINCTIVE }),
    targetServices: [service],
    plan: { strategy: { kind: 'explicit', waves: ['100%'] }, bakeSeconds: 0, approval: 'none' },
  });
  expect(started.status).toBe(202);
  workflowId = rolloutWorkflowId({ tenantId: tenant, key: KEY });
  const result: unknown = await server.temporal!.workflow.getHandle(workflowId).result();
  expect(result).toMatchObject({ state: 'SUCCEEDED' });
  // The instance got the value: the rollout really carried it through Temporal.
  expect((await instances[0]!.client.get(tenant, KEY))?.value).toContain(DISTINCTIVE);

  // A client without the codec sees what Temporal stores.
  const raw = new Client({ connection: server.temporal!.connection, namespace: 'default' });
  rawHistory = await raw.workflow.getHandle(workflowId).fetchHistory();
}, 180_000);

afterAll(async () => {
  await Promise.all(instances.map((instance) => instance.client.stop()));
  await server.stop();
});

describe("a rollout's workflow history", () => {
  test('read raw from Temporal, holds the value nowhere: not its bytes, not its base64', () => {
    const binary = Buffer.from(temporal.api.history.v1.History.encode(rawHistory).finish());
    const json = JSON.stringify(temporal.api.history.v1.History.fromObject(rawHistory).toJSON());
    // Not vacuous: the history is the rollout's, with its request and results among the payloads.
    expect(json).toContain(tenant);
    const payloads = payloadsIn(rawHistory);
    expect(payloads.length).toBeGreaterThan(5);
    for (const payload of payloads) {
      expect(Buffer.from(payload.metadata?.encoding ?? []).toString()).toBe('binary/encrypted');
    }
    for (const haystack of [binary.toString('latin1'), json]) {
      expect(haystack).not.toContain(DISTINCTIVE);
      for (const form of base64Forms(DISTINCTIVE)) expect(haystack).not.toContain(form);
    }
  });

  test('decoded through the codec endpoint by a platform operator, shows the value', async () => {
    const payloads = payloadsIn(rawHistory).map((payload) => ({
      metadata: Object.fromEntries(
        Object.entries(payload.metadata ?? {}).map(([key, value]) => [
          key,
          Buffer.from(value).toString('base64'),
        ]),
      ),
      data: Buffer.from(payload.data ?? []).toString('base64'),
    }));
    const { status, body } = await codecCall('decode', platformOperator(), { payloads });
    expect(status).toBe(200);
    const decoded = (body.payloads as { metadata: Record<string, string>; data: string }[]).map((payload) =>
      Buffer.from(payload.data, 'base64').toString('utf8'),
    );
    expect(decoded.some((text) => text.includes(DISTINCTIVE))).toBe(true);
  });

  test('the Temporal CLI shows the value only with the codec endpoint and a platform operator token', async () => {
    const show = (codec: string[]) =>
      run(toolPath('temporal'), [
        'workflow',
        'show',
        '--workflow-id',
        workflowId,
        '--address',
        process.env.TEMPORAL_ADDRESS!,
        '--output',
        'json',
        '--disable-config-env',
        '--disable-config-file',
        ...codec,
      ]);
    // The CLI prints payload data in base64.
    const showsValue = (stdout: string) =>
      [DISTINCTIVE, ...base64Forms(DISTINCTIVE)].some((form) => stdout.includes(form));
    const plain = await show([]);
    expect(plain.stdout).toContain(workflowId);
    expect(showsValue(plain.stdout)).toBe(false);

    const decoded = await show([
      '--codec-endpoint',
      `${server.httpUrl}/codec`,
      '--codec-auth',
      `Bearer ${platformOperator()}`,
    ]);
    expect(showsValue(decoded.stdout)).toBe(true);

    const refused = show([
      '--codec-endpoint',
      `${server.httpUrl}/codec`,
      '--codec-auth',
      `Bearer ${releaseManager()}`,
    ]);
    const refusal = await refused.then(
      () => ({ refused: false, stdout: '' }),
      (error: { stdout: string }) => ({ refused: true, stdout: error.stdout }),
    );
    expect(refusal.refused).toBe(true);
    expect(showsValue(refusal.stdout)).toBe(false);
  });
});

test("a failed rollout's failure messages, which quote the value, are sealed too", async () => {
  // Short, so the JSON parser's message quotes all of it.
  const secret = `zq${randomUUID().slice(0, 8)}`;
  const request = {
    tenantId: tenant,
    key: 'tenant_config_failing',
    change: { kind: 'set' as const, value: secret },
    targetServices: ['nobody'],
    plan: {
      strategy: { kind: 'explicit' as const, waves: ['100%' as const] },
      bakeSeconds: 0,
      approval: 'none' as const,
      maxFailures: 0,
    },
    actor: 'rita',
  };
  // Straight to Temporal: the REST API would refuse the value before any workflow starts.
  const handle = await startRollout(server.temporal!, request, server.taskQueue);
  const failure = await handle.result().then(
    () => undefined,
    (error: Error) => error,
  );
  // Through the codec the operator-facing messages are intact…
  const messages: string[] = [];
  for (let error: unknown = failure; error instanceof Error; error = error.cause)
    messages.push(error.message);
  expect(messages.join('\n')).toContain(secret);

  // …while Temporal holds it only sealed.
  const raw = new Client({ connection: server.temporal!.connection, namespace: 'default' });
  const history = await raw.workflow.getHandle(handle.workflowId).fetchHistory();
  const json = JSON.stringify(temporal.api.history.v1.History.fromObject(history).toJSON());
  expect(json).toContain('EVENT_TYPE_WORKFLOW_EXECUTION_FAILED');
  expect(json).toContain('Encoded failure');
  for (const form of [secret, ...base64Forms(secret)]) expect(json).not.toContain(form);

  // The tenant's own timeline (GET /v1/rollouts/{id}/history) reads the history through the codec.
  const rolloutId = formatRolloutId(handle.firstExecutionRunId, request.key);
  const timeline = await callApi(
    server.httpUrl,
    'GET',
    `/v1/rollouts/${rolloutId}/history`,
    releaseManager(),
  );
  expect(timeline.status).toBe(200);
  const finished = (timeline.body.items as { kind: string; summary: string }[]).find(
    (entry) => entry.kind === 'finished',
  );
  expect(finished?.summary).toMatch(/^failed: /);
  expect(finished?.summary).not.toContain('Encoded failure');
});

describe('the codec endpoint', () => {
  const sealedPayload = async () => {
    const [payload] = payloadsIn(rawHistory);
    return {
      payloads: [
        {
          metadata: Object.fromEntries(
            Object.entries(payload!.metadata ?? {}).map(([key, value]) => [
              key,
              Buffer.from(value).toString('base64'),
            ]),
          ),
          data: Buffer.from(payload!.data ?? []).toString('base64'),
        },
      ],
    };
  };

  test.each([
    ['a release manager of the very tenant', () => releaseManager(), 403],
    [
      "an operator of the tenant (the tenant's read role)",
      () => validToken({ tenantId: tenant, groups: ['operators'] }),
      403,
    ],
    ['a services token', () => validToken({ tenantId: tenant, groups: ['services'] }), 403],
    ['no token', () => undefined, 401],
  ])('refuses %s', async (_who, token, status) => {
    const body = await sealedPayload();
    for (const direction of ['decode', 'encode'] as const) {
      const answer = await codecCall(direction, token(), body);
      expect(answer.status).toBe(status);
      expect(JSON.stringify(answer.body)).not.toContain(DISTINCTIVE);
    }
  });

  test('refuses a namespace other than the one it serves', async () => {
    const response = await fetch(`${server.httpUrl}/codec/decode`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${platformOperator()}`,
        'content-type': 'application/json',
        'x-namespace': 'someone-elses',
      },
      body: JSON.stringify(await sealedPayload()),
    });
    expect(response.status).toBe(403);
  });

  test('an altered payload is refused (422), not decoded to something else', async () => {
    const body = await sealedPayload();
    const data = Buffer.from(body.payloads[0]!.data, 'base64');
    data[data.length - 1]! ^= 1;
    body.payloads[0]!.data = data.toString('base64');
    const answer = await codecCall('decode', platformOperator(), body);
    expect(answer).toMatchObject({ status: 422, body: { title: 'PayloadUndecryptable' } });
  });

  test('what a platform operator encodes decodes back, and is sealed in between', async () => {
    const plain = {
      metadata: { encoding: Buffer.from('json/plain').toString('base64') },
      data: Buffer.from(`"${DISTINCTIVE}"`).toString('base64'),
    };
    const encoded = await codecCall('encode', platformOperator(), { payloads: [plain] });
    expect(encoded.status).toBe(200);
    expect(JSON.stringify(encoded.body)).not.toContain(plain.data);
    const decoded = await codecCall('decode', platformOperator(), encoded.body);
    expect(decoded.body).toEqual({ payloads: [plain] });
  });

  test('answers the Temporal UI origin’s preflight, and no other origin', async () => {
    const preflight = (origin: string) =>
      fetch(`${server.httpUrl}/codec/decode`, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization,content-type,x-namespace',
        },
      });
    const ui = await preflight(temporalUiUrl());
    expect(ui.status).toBe(204);
    expect(ui.headers.get('access-control-allow-origin')).toBe(temporalUiUrl());
    expect(ui.headers.get('access-control-allow-headers')).toMatch(/Authorization/);
    const stranger = await preflight('https://evil.example');
    expect(stranger.headers.get('access-control-allow-origin')).toBeNull();
  });
});
