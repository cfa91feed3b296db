import { PutParameterCommand } from '@aws-sdk/client-ssm';
import { WorkflowFailedError, WorkflowNotFoundError } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import type { ConfigAddress } from '../../common/configAddress';
import { rolloutWorkflowId } from '../../common/rollout';
import { handler } from '../../lambdas/parameterStoreChange';
import { startRollout } from '../../rolloutClient';
import type { rolloutWorkflow } from '../../workflows/rolloutWorkflow';
import { stackClients, uniqueTenant } from '../support/env';
import { type FleetMember, startInstance } from '../support/fleet';
import { runCfgctl } from '../support/cli';
import { useHandlerEnvironment } from '../support/outOfBand';
import { allAtOnce } from '../support/plans';
import { type ApiAnswer, callApi } from '../support/restApi';
import { startTestServer, type TestServer } from '../support/server';
import { validToken } from '../support/tokens';

/**
 * The shape guard on the real stack: a value whose size or top-level shape jumps against the live one
 * (Cloudflare's doubled feature file, 2025-11-18) is refused before anything is written, by the API and,
 * for starts that bypass it (an out-of-band Parameter Store edit, a Temporal client), by the rollout's
 * own prepare step, before any push. Real DynamoDB and Parameter Store (moto), Temporal, SDK instances.
 */
const KEY = 'tenant_config_featureFlags';
const PARAM = 'param_config_routes';

let server: TestServer;
const clients = stackClients();
const instances: FleetMember[] = [];
const service = `shapes-${randomUUID().slice(0, 6)}`;
const tenantId = uniqueTenant('shape');
const flagsAddress: ConfigAddress = { tenantId, key: KEY };
const paramAddress: ConfigAddress = { tenantId, key: PARAM, service };
let restoreEnv: () => void = () => undefined;

/** A flag set of `count` flags, ~45 bytes each: past the guard's floors from 23 flags up. */
const flags = (count: number, on = true) =>
  JSON.stringify(
    Object.fromEntries(Array.from({ length: count }, (_, i) => [`feature_${i}`.padEnd(36, '_'), on])),
  );
/** A route table as text (Parameter Store): `lines` lines of ~40 bytes. */
const routes = (lines: number) =>
  Array.from({ length: lines }, (_, i) => `/api/v${i} -> https://backend-${i}.example`).join('\n');

const releaseManager = (tenant = tenantId) =>
  validToken({ tenantId: tenant, groups: ['release-managers'], subject: 'alice' });

beforeAll(async () => {
  server = await startTestServer({ rollouts: true });
  await server.store.put(flagsAddress, flags(60), { expectedVersion: 0, makeLive: true });
  await server.store.put(paramAddress, routes(40), { expectedVersion: 0, makeLive: true });
  for (const tenancy of [tenantId, 'pool']) {
    instances.push(
      await startInstance({ server, clients, service, tenancy, preload: [flagsAddress, paramAddress] }),
    );
  }
  restoreEnv = useHandlerEnvironment(server.taskQueue!);
}, 120_000);

afterAll(async () => {
  restoreEnv();
  await Promise.all(instances.map((instance) => instance.client.stop()));
  await server?.stop();
});

const held = (address: ConfigAddress) =>
  Promise.all(
    instances.map(
      async (member) => (await member.client.get(tenantId, address.key, address.service))?.version,
    ),
  );
const versions = async (address: ConfigAddress) =>
  (await server.store.history(address)).map((entry) => entry.version);
const liveVersion = async (address: ConfigAddress) => (await server.store.getLive(address)).version;

/** POST /v1/rollouts of a new value of the flags, every instance at once. */
const start = (value: string, extra: Record<string, unknown> = {}, token = releaseManager()) =>
  callApi(server.httpUrl, 'POST', '/v1/rollouts', token, {
    key: KEY,
    value,
    targetServices: [service],
    plan: { strategy: { kind: 'explicit', waves: ['100%'] }, bakeSeconds: 0 },
    ...extra,
  });

/** The run id of the key's latest rollout, if any: a refused start leaves it as it was. */
const latestRun = () =>
  server
    .temporal!.workflow.getHandle(rolloutWorkflowId(flagsAddress))
    .describe()
    .then(
      (description) => description.runId,
      (error: unknown) => {
        if (error instanceof WorkflowNotFoundError) return undefined;
        throw error;
      },
    );

/** Every message down a failure's chain of causes. */
const messages = (error: unknown): string =>
  error instanceof Error ? `${error.message} | ${messages(error.cause)}` : '';

const resultOf = (workflowId: string) =>
  server.temporal!.workflow.getHandle<typeof rolloutWorkflow>(workflowId).result();

/** The start was accepted and its rollout made `version` live, on every instance too. */
async function expectLiveEverywhere(started: ApiAnswer, version: number): Promise<void> {
  expect(started.status).toBe(202);
  expect(await resultOf(started.body.workflowId as string)).toMatchObject({
    state: 'SUCCEEDED',
    candidateVersion: version,
  });
  expect(await held(flagsAddress)).toEqual([version, version]);
  expect(await liveVersion(flagsAddress)).toBe(version);
}

test('a value within the factor rolls out: every instance and live on the new version', async () => {
  const before = await liveVersion(flagsAddress);
  await expectLiveEverywhere(await start(flags(70)), before + 1);
});

test('a doubled value is refused with 422 naming the field and both measures, and nothing is written; confirmed, it rolls out', async () => {
  const before = await liveVersion(flagsAddress);
  const written = await versions(flagsAddress);
  const liveKeys = Object.keys(JSON.parse((await server.store.getLive(flagsAddress)).value) as object).length;
  const doubled = flags(liveKeys * 2);
  const runBefore = await latestRun();

  const refused = await start(doubled);
  expect(refused.status).toBe(422);
  expect(refused.body).toMatchObject({ title: 'ShapeChangeRefused', field: 'value' });
  expect(refused.body.detail).toMatch(
    new RegExp(
      `against live version ${before} .*bytes \\d+ → \\d+ \\(2\\.\\d\\dx\\); top-level keys ${liveKeys} → ${liveKeys * 2} \\(2\\.00x\\)`,
    ),
  );
  // Nothing written, nothing started, nothing pushed.
  expect(await versions(flagsAddress)).toEqual(written);
  expect(await latestRun()).toBe(runBefore);
  expect(await held(flagsAddress)).toEqual([before, before]);

  // The plan may allow more; the release manager may confirm.
  await expectLiveEverywhere(
    await start(doubled, { plan: { ...allAtOnce(), shapeGuard: { maxFactor: 3 } } }),
    before + 1,
  );
  await expectLiveEverywhere(await start(flags(liveKeys), { allowShapeChange: true }), before + 2);
});

test('a rollout started without the API is refused by its own prepare step: FAILED before anything is written or pushed', async () => {
  const before = await liveVersion(flagsAddress);
  const written = await versions(flagsAddress);
  const handle = await startRollout(
    server.temporal!,
    {
      ...flagsAddress,
      change: { kind: 'set', value: flags(200) },
      targetServices: [service],
      plan: allAtOnce(),
      actor: 'temporal-client',
    },
    server.taskQueue,
  );
  const failure = await handle.result().then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(failure).toBeInstanceOf(WorkflowFailedError);
  expect(messages(failure)).toMatch(/changes shape against live version \d+ .*top-level keys \d+ → 200/);
  expect(await versions(flagsAddress)).toEqual(written);
  expect(await held(flagsAddress)).toEqual([before, before]);
  // `rollout status` says why.
  const [runId] = [handle.firstExecutionRunId];
  const status = await callApi(server.httpUrl, 'GET', `/v1/rollouts/${runId}~${KEY}`, releaseManager());
  expect(status.body).toMatchObject({ state: 'FAILED' });
  expect(status.body.outcome).toMatch(/^failed: value changes shape against live version/);
  // And `rollout history`.
  const history = await callApi(
    server.httpUrl,
    'GET',
    `/v1/rollouts/${runId}~${KEY}/history`,
    releaseManager(),
  );
  expect((history.body.items as { summary: string }[]).at(-1)?.summary).toMatch(
    /^failed: value changes shape against live version \d+ .*top-level keys \d+ → 200/,
  );
});

test('an out-of-band edit that doubles a parameter reaches no instance; once its key plan allows it, the retried event rolls it out', async () => {
  const name = `/config-service/${tenantId}/${service}/${PARAM}`;
  await clients.ssm.send(
    new PutParameterCommand({ Name: name, Value: routes(80), Type: 'String', Overwrite: true }),
  );
  const event = {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Parameter Store Change' as const,
    source: 'aws.ssm' as const,
    account: '123456789012',
    time: new Date().toISOString(),
    region: 'us-east-1',
    resources: [`arn:aws:ssm:us-east-1:123456789012:parameter${name}`],
    detail: { operation: 'Update' as const, name, type: 'String' },
  };
  const first = await handler(event);
  expect(first).toMatchObject({ outcome: 'started', version: 2 });
  if (first.outcome !== 'started') throw new Error('not started');
  const refused = await resultOf(first.workflowId).then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(refused).toBeInstanceOf(WorkflowFailedError);
  expect(messages(refused)).toMatch(/changes shape against live version 1 .*: bytes \d+ → \d+ \(2\.\d\dx\)/);
  expect(await held(paramAddress)).toEqual([1, 1]);
  expect(await liveVersion(paramAddress)).toBe(1);

  await server.plans.put(tenantId, { selector: PARAM }, allAtOnce({ shapeGuard: 'off' }), 'rm-alice');
  const retried = await handler(event);
  expect(retried).toMatchObject({ outcome: 'started', version: 2 });
  if (retried.outcome !== 'started') throw new Error('not started');
  expect(await resultOf(retried.workflowId)).toMatchObject({ state: 'SUCCEEDED', candidateVersion: 2 });
  expect(await held(paramAddress)).toEqual([2, 2]);
  expect(await liveVersion(paramAddress)).toBe(2);
  expect(await versions(paramAddress)).toEqual([2, 1]);
});

test('abuse: a confirmed change still meets the backends size limits, and nothing is written', async () => {
  const written = await versions(flagsAddress);
  // Past DynamoDB's 399 KB item, within the API's 400 KB request field: the store's own check answers.
  const huge = JSON.stringify({ blob: 'x'.repeat(409_000) });
  const tooLarge = await start(huge, { allowShapeChange: true });
  expect(tooLarge.status).toBe(413);
  expect(tooLarge.body).toMatchObject({ title: 'ValueTooLarge', field: 'value' });
  expect(await versions(flagsAddress)).toEqual(written);

  const paramWritten = await versions(paramAddress);
  const overStandard = await callApi(server.httpUrl, 'POST', '/v1/rollouts', releaseManager(), {
    key: PARAM,
    service,
    value: routes(200),
    allowShapeChange: true,
  });
  expect(overStandard.status).toBe(413);
  expect(await versions(paramAddress)).toEqual(paramWritten);
});

test('abuse: allowShapeChange takes a release manager of the tenant; an operator or a service is refused, another tenant cannot reach the key', async () => {
  const written = await versions(flagsAddress);
  for (const groups of [['operators'], ['services']] as const) {
    const refused = await start(flags(300), { allowShapeChange: true }, validToken({ tenantId, groups }));
    expect(refused.status).toBe(403);
  }
  const otherTenant = uniqueTenant('other');
  const stranger = await start(flags(300), { allowShapeChange: true }, releaseManager(otherTenant));
  // Its own tenant's key, a new one there: nothing of this tenant is read, compared or written.
  expect(stranger.status).toBe(202);
  await resultOf(stranger.body.workflowId as string).catch(() => undefined);
  expect(await versions(flagsAddress)).toEqual(written);
  expect(await server.store.history({ tenantId: otherTenant, key: KEY })).toHaveLength(1);
});

test('cfgctl: a doubled value exits 1 naming ShapeChangeRefused and the field; --allow-shape-change starts it', async () => {
  const before = await liveVersion(flagsAddress);
  const liveKeys = Object.keys(JSON.parse((await server.store.getLive(flagsAddress)).value) as object).length;
  const args = [
    'rollout',
    'start',
    KEY,
    '--value',
    flags(liveKeys * 2),
    '--target',
    service,
    '--waves',
    '100%',
  ];
  const refused = await runCfgctl(server.httpUrl, [...args, '--bake', '0'], releaseManager());
  expect(refused.code).toBe(1);
  expect(refused.stderr).toMatch(/^error: ShapeChangeRefused: value changes shape .*\(field: value\)/);
  expect(await liveVersion(flagsAddress)).toBe(before);

  const confirmed = await runCfgctl(
    server.httpUrl,
    [...args, '--bake', '0', '--allow-shape-change', '--watch'],
    releaseManager(),
  );
  expect(confirmed.code).toBe(0);
  expect(await held(flagsAddress)).toEqual([before + 1, before + 1]);
  // Who confirmed it stays in the rollout's history.
  const id = /rollout (\S+~\S+)/.exec(confirmed.stdout)?.[1] ?? confirmed.stdout.split('\n')[0]!;
  const history = await runCfgctl(server.httpUrl, ['rollout', 'history', id.trim()], releaseManager());
  expect(history.stdout).toMatch(/alice started a rollout of a new value .* confirming a change of shape/);
});
