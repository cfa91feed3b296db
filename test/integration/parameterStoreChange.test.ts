import { setTimeout as sleep } from 'node:timers/promises';
import {
  DeleteParameterCommand,
  LabelParameterVersionCommand,
  PutParameterCommand,
} from '@aws-sdk/client-ssm';
import { ApplicationFailure } from '@temporalio/common';
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { InvalidArgumentError } from '../../common/errors';
import { createLogger } from '../../common/logger';
import type { RolloutPlan } from '../../common/rollout';
import { handler } from '../../lambdas/parameterStoreChange';
import {
  type ParameterStoreChange,
  parseParameterStoreChange,
} from '../../lambdas/parameterStoreChangeEvent';
import { type ParameterChangeDeps, rollOutParameterChange } from '../../lambdas/rollOutParameterChange';
import { startRollout } from '../../rolloutClient';
import { progressQuery } from '../../workflows/definitions';
import type { rolloutWorkflow } from '../../workflows/rolloutWorkflow';
import { stackClients, uniqueTenant } from '../support/env';
import { type FleetMember, startInstance } from '../support/fleet';
import { startTestServer, type TestServer } from '../support/server';

/**
 * Out-of-band Parameter Store edits, from the event to every instance: the handler's logic against the
 * real stack (moto's Parameter Store, the Temporal dev server, a worker, real SDK instances), with the
 * AWS-documented event shapes from shared/fixtures.
 */
const FIXTURES = path.join(__dirname, '..', '..', '..', 'shared', 'fixtures');
const KEY = 'param_config_apiEndpoint';
const PLAN: RolloutPlan = {
  strategy: { kind: 'explicit', waves: [1, '100%'] },
  bakeSeconds: 0,
  approval: 'none',
  maxFailures: 0,
};

let server: TestServer;
let deps: ParameterChangeDeps;
const clients = stackClients();
const instances: FleetMember[] = [];
const logger = createLogger({ component: 'test-lambda' }, 'error');

beforeAll(async () => {
  server = await startTestServer({ rollouts: true });
  deps = {
    store: server.store,
    temporal: server.temporal!,
    taskQueue: server.taskQueue!,
    plans: server.plans,
    plan: PLAN,
    log: (message, fields) => logger.info(message, fields),
  };
}, 120_000);

afterAll(async () => {
  await Promise.all(instances.map((instance) => instance.client.stop()));
  await server.stop();
});

/** A fixture event, re-addressed to this test's tenant and service. */
function fixture(file: string, name: string, id = randomUUID()): ParameterStoreChange {
  const event = JSON.parse(readFileSync(path.join(FIXTURES, file), 'utf8')) as ParameterStoreChange;
  return parseParameterStoreChange({ ...event, id, detail: { ...event.detail, name } });
}

/** A tenant with the key live at version 1 in Parameter Store, and two instances of its service. */
async function setUp() {
  const tenantId = uniqueTenant('oob');
  const service = `orders-${randomUUID().slice(0, 6)}`;
  const address = { tenantId, key: KEY, service };
  await server.store.put(address, 'https://v1.example', { expectedVersion: 0, makeLive: true });
  for (const tenancy of [tenantId, 'pool']) {
    instances.push(
      await startInstance({ server, clients, service, tenancy, preload: [{ tenantId, key: KEY, service }] }),
    );
  }
  const name = `/config-service/${tenantId}/${service}/${KEY}`;
  /** An edit made directly in Parameter Store, as with the console or the CLI: a new version, not live. */
  const editByHand = (value: string) =>
    clients.ssm.send(new PutParameterCommand({ Name: name, Value: value, Type: 'String', Overwrite: true }));
  return { address, name, editByHand, fleet: instances.slice(-2) };
}

/** A release manager's rollout of a new value, as the API starts it, run to its end. */
async function rolloutThroughTheApi(address: { tenantId: string; service: string }, value: string) {
  const handle = await startRollout(
    server.temporal!,
    {
      tenantId: address.tenantId,
      key: KEY,
      service: address.service,
      change: { kind: 'set', value },
      targetServices: [address.service],
      plan: PLAN,
      actor: 'alice',
    },
    server.taskQueue,
  );
  await handle.result();
  return handle;
}

const heldVersions = async (
  fleet: FleetMember[],
  address: { tenantId: string; key: string; service: string },
) =>
  Promise.all(
    fleet.map(
      async (member) => (await member.client.get(address.tenantId, address.key, address.service))?.version,
    ),
  );

test('an edit made directly in Parameter Store reaches every instance through a staged rollout and goes live', async () => {
  const { address, name, editByHand, fleet } = await setUp();
  await editByHand('https://v2.example');
  expect(await server.store.getLive(address)).toMatchObject({ version: 1 });

  const outcome = await rollOutParameterChange(fixture('ssm-change-update.json', name), deps);
  expect(outcome).toMatchObject({ outcome: 'started', version: 2 });
  if (outcome.outcome !== 'started') throw new Error('not started');
  const result = await server
    .temporal!.workflow.getHandle<typeof rolloutWorkflow>(outcome.workflowId, outcome.runId)
    .result();

  expect(result).toMatchObject({ state: 'SUCCEEDED', candidateVersion: 2, updatedInstances: 2 });
  expect(await heldVersions(fleet, address)).toEqual([2, 2]);
  expect(await server.store.getLive(address)).toMatchObject({ version: 2, value: 'https://v2.example' });
});

test("an edit that breaks the key's schema reaches no instance: the rollout fails naming the rule", async () => {
  const { address, name, editByHand, fleet } = await setUp();
  await server.store.putSchema(
    address.tenantId,
    KEY,
    { type: 'string', pattern: '^https://' },
    { actor: 'alice' },
  );
  await editByHand('http://plain-text.example');

  const outcome = await rollOutParameterChange(fixture('ssm-change-update.json', name), deps);
  if (outcome.outcome !== 'started') throw new Error(`not started: ${outcome.outcome}`);
  const failure = await server
    .temporal!.workflow.getHandle<typeof rolloutWorkflow>(outcome.workflowId, outcome.runId)
    .result()
    .then(
      () => undefined,
      (error: unknown) => error,
    );
  let reason: unknown = failure;
  while (reason instanceof Error && !(reason instanceof ApplicationFailure)) reason = reason.cause;
  expect(reason).toMatchObject({
    nonRetryable: true,
    type: 'SchemaViolation',
    message:
      'value of "param_config_apiEndpoint" does not match its schema: (the value) must match pattern "^https://"',
  });
  expect(await heldVersions(fleet, address)).toEqual([1, 1]);
  expect(await server.store.getLive(address)).toMatchObject({ version: 1, value: 'https://v1.example' });
});

test('the same event delivered twice starts one rollout; once live, a late copy starts nothing', async () => {
  const { address, name, editByHand } = await setUp();
  await editByHand('https://v2.example');
  const event = fixture('ssm-change-update.json', name);

  const first = await rollOutParameterChange(event, deps);
  const second = await rollOutParameterChange(event, deps);
  expect(first.outcome).toBe('started');
  expect(second).toMatchObject({ outcome: 'already-rolling-out', version: 2 });
  if (first.outcome !== 'started') throw new Error('not started');
  await server.temporal!.workflow.getHandle(first.workflowId, first.runId).result();

  const late = await rollOutParameterChange(event, deps);
  expect(late).toMatchObject({
    outcome: 'ignored',
    reason: 'version 2 is not newer than the live version 2',
  });
  expect((await server.store.history(address)).map((h) => h.version)).toEqual([2, 1]);
});

test('a version a rollout wrote starts no second rollout, nor does the label its promotion moves', async () => {
  const { address, name } = await setUp();
  const handle = await rolloutThroughTheApi(address, 'https://v2-by-rollout.example');

  for (const file of ['ssm-change-update.json', 'ssm-change-label.json']) {
    const outcome = await rollOutParameterChange(fixture(file, name), deps);
    expect(outcome).toEqual({
      outcome: 'ignored',
      reason: `version 2 was written by rollout/${handle.firstExecutionRunId}`,
    });
  }
  expect((await handle.query(progressQuery)).state).toBe('SUCCEEDED');
});

test("an edit by hand right after a rollout's write is rolled out, though it carries the rollout's description", async () => {
  const { address, name, editByHand, fleet } = await setUp();
  const handle = await rolloutThroughTheApi(address, 'https://v2-by-rollout.example');
  await editByHand('https://v3-by-hand.example');
  // Parameter Store kept version 2's description, the rollout's write id, for version 3.
  expect(await server.store.latest(address)).toMatchObject({
    version: 3,
    writeId: `rollout/${handle.firstExecutionRunId}`,
  });

  const outcome = await rollOutParameterChange(fixture('ssm-change-update.json', name), deps);
  expect(outcome).toMatchObject({ outcome: 'started', version: 3 });
  if (outcome.outcome !== 'started') throw new Error('not started');
  const result = await server
    .temporal!.workflow.getHandle<typeof rolloutWorkflow>(outcome.workflowId, outcome.runId)
    .result();
  expect(result).toMatchObject({ state: 'SUCCEEDED', candidateVersion: 3, updatedInstances: 2 });
  expect(await heldVersions(fleet, address)).toEqual([3, 3]);
  expect(await server.store.getLive(address)).toMatchObject({
    version: 3,
    value: 'https://v3-by-hand.example',
  });
});

test("an operator's emergency rollback (live moved back to an older version) is rolled out, not undone", async () => {
  const { address, name, editByHand, fleet } = await setUp();
  await editByHand('https://v2-broken.example');
  const forward = await rollOutParameterChange(fixture('ssm-change-update.json', name), deps);
  if (forward.outcome !== 'started') throw new Error(`not started: ${forward.outcome}`);
  await server.temporal!.workflow.getHandle(forward.workflowId, forward.runId).result();
  expect(await heldVersions(fleet, address)).toEqual([2, 2]);

  // The operator moves `live` back to version 1 by hand, as with the console or the CLI.
  await clients.ssm.send(
    new LabelParameterVersionCommand({ Name: name, ParameterVersion: 1, Labels: ['live'] }),
  );
  const label = fixture('ssm-change-label.json', name);
  const rollback = await rollOutParameterChange(label, deps);
  expect(rollback).toMatchObject({ outcome: 'started', version: 1 });
  if (rollback.outcome !== 'started') throw new Error('not started');
  expect(await rollOutParameterChange(label, deps)).toMatchObject({ outcome: 'already-rolling-out' });
  const result = await server
    .temporal!.workflow.getHandle<typeof rolloutWorkflow>(rollback.workflowId, rollback.runId)
    .result();

  // Instances never go back to an older version: version 1's value comes back as version 3, a copy.
  expect(result).toMatchObject({ state: 'SUCCEEDED', candidateVersion: 3, copyOf: 1, updatedInstances: 2 });
  expect(await heldVersions(fleet, address)).toEqual([3, 3]);
  expect(await server.store.getLive(address)).toMatchObject({ version: 3, value: 'https://v1.example' });
  expect(await server.store.latest(address)).toMatchObject({ version: 3, copyOf: 1 });
  // The label event of its own promotion, or a late copy of the operator's, starts nothing more.
  expect((await rollOutParameterChange(label, deps)).outcome).toBe('ignored');
});

test('a deletion makes every instance forget the key, once; the name created again reaches them at version 1', async () => {
  const { address, name, fleet } = await setUp();
  await clients.ssm.send(new DeleteParameterCommand({ Name: name }));

  const event = fixture('ssm-change-delete.json', name);
  const removal = await rollOutParameterChange(event, deps);
  expect(removal).toMatchObject({ outcome: 'started', version: 0 });
  if (removal.outcome !== 'started') throw new Error('not started');
  const result = await server
    .temporal!.workflow.getHandle<typeof rolloutWorkflow>(removal.workflowId, removal.runId)
    .result();
  expect(result).toMatchObject({ state: 'SUCCEEDED', updatedInstances: 2 });
  expect(await heldVersions(fleet, address)).toEqual([undefined, undefined]);
  expect(await rollOutParameterChange(event, deps)).toMatchObject({
    outcome: 'ignored',
    reason: `the removal of ${name} was rolled out already`,
  });

  // Parameter Store numbers a re-created name from 1 again; the instances forgot the old versions.
  await clients.ssm.send(
    new PutParameterCommand({ Name: name, Value: 'https://reborn.example', Type: 'String' }),
  );
  const created = await rollOutParameterChange(fixture('ssm-change-create.json', name), deps);
  expect(created).toMatchObject({ outcome: 'started', version: 1 });
  if (created.outcome !== 'started') throw new Error('not started');
  await server
    .temporal!.workflow.getHandle<typeof rolloutWorkflow>(created.workflowId, created.runId)
    .result();
  expect(await heldVersions(fleet, address)).toEqual([1, 1]);
});

test('a parameter created again while its deletion rolls out is kept, and rolled out after it', async () => {
  const { address, name, fleet } = await setUp();
  await clients.ssm.send(new DeleteParameterCommand({ Name: name }));
  const removal = await rollOutParameterChange(fixture('ssm-change-delete.json', name), {
    ...deps,
    plan: { ...PLAN, bakeSeconds: 2 },
  });
  if (removal.outcome !== 'started') throw new Error('not started');
  const handle = server.temporal!.workflow.getHandle<typeof rolloutWorkflow>(
    removal.workflowId,
    removal.runId,
  );
  for (let i = 0; i < 100 && (await handle.query(progressQuery)).state !== 'BAKING'; i += 1) {
    await sleep(100);
  }
  await clients.ssm.send(
    new PutParameterCommand({ Name: name, Value: 'https://reborn.example', Type: 'String' }),
  );
  const created = fixture('ssm-change-create.json', name);
  // The removal still runs: the Create event fails and EventBridge retries it later.
  await expect(rollOutParameterChange(created, deps)).rejects.toMatchObject({ code: 'RolloutInProgress' });

  expect(await handle.result()).toMatchObject({ state: 'SUCCEEDED' });
  expect((await handle.query(progressQuery)).outcome).toBe(
    'removed from 2 of 2 instances; version 1, written while it ran, was kept for its own rollout',
  );
  expect(await server.store.latest(address)).toMatchObject({ version: 1, value: 'https://reborn.example' });
  const retried = await rollOutParameterChange(created, deps);
  if (retried.outcome !== 'started') throw new Error(`not started: ${retried.outcome}`);
  await server.temporal!.workflow.getHandle(retried.workflowId, retried.runId).result();
  expect(await heldVersions(fleet, address)).toEqual([1, 1]);
  expect(await server.store.getLive(address)).toMatchObject({ version: 1, value: 'https://reborn.example' });
});

test('names outside the /config-service/ tree, or not platform keys, are ignored', async () => {
  const outside = JSON.parse(
    readFileSync(path.join(FIXTURES, 'ssm-change-outside-tree.json'), 'utf8'),
  ) as unknown;
  expect(await rollOutParameterChange(parseParameterStoreChange(outside), deps)).toEqual({
    outcome: 'ignored',
    reason: '/other-team/db/password is outside /config-service/{tenant}/{service}/{key}',
  });
  for (const name of [
    '/config-service-other/acme/orders/param_config_x',
    '/config-service/acme/orders/db_password',
  ]) {
    expect((await rollOutParameterChange(fixture('ssm-change-update.json', name), deps)).outcome).toBe(
      'ignored',
    );
  }
});

test('a malformed event is a clear error naming the field', () => {
  const event = JSON.parse(readFileSync(path.join(FIXTURES, 'ssm-change-update.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  expect(() => parseParameterStoreChange({ ...event, source: 'aws.ec2' })).toThrow(InvalidArgumentError);
  expect(() => parseParameterStoreChange({ ...event, detail: { operation: 'Update' } })).toThrow(
    /detail\.name/,
  );
  expect(() => parseParameterStoreChange('not an event')).toThrow(/not a Parameter Store Change event/);
});

test('the Lambda handler connects from its environment and rolls out an edit', async () => {
  const { address, name, editByHand, fleet } = await setUp();
  await editByHand('https://v2-via-handler.example');
  const saved = { queue: process.env.TEMPORAL_TASK_QUEUE, plan: process.env.OUT_OF_BAND_ROLLOUT_PLAN };
  process.env.TEMPORAL_TASK_QUEUE = server.taskQueue;
  process.env.OUT_OF_BAND_ROLLOUT_PLAN = JSON.stringify({ bakeSeconds: 0 });
  try {
    const outcome = await handler(fixture('ssm-change-update.json', name), { awsRequestId: 'req-1' });
    expect(outcome).toMatchObject({ outcome: 'started', version: 2 });
    if (outcome.outcome !== 'started') throw new Error('not started');
    await server.temporal!.workflow.getHandle(outcome.workflowId, outcome.runId).result();
    expect(await heldVersions(fleet, address)).toEqual([2, 2]);
    await expect(handler({ source: 'aws.ssm' })).rejects.toThrow(InvalidArgumentError);
  } finally {
    process.env.TEMPORAL_TASK_QUEUE = saved.queue;
    process.env.OUT_OF_BAND_ROLLOUT_PLAN = saved.plan;
  }
});
