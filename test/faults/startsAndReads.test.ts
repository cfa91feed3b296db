import { setTimeout as sleep } from 'node:timers/promises';
import { randomUUID } from 'node:crypto';
import { ConfigReaderClient } from '../../sdk/configReaderClient';
import { startRollout } from '../../rolloutClient';
import { progressQuery } from '../../workflows/definitions';
import { stackClients, uniqueTenant } from '../support/env';
import { type FleetMember, startInstance } from '../support/fleet';
import { closedPort } from '../support/ports';
import { kill, spawnConfigService } from '../support/processes';
import { callApi } from '../support/restApi';
import { startTestServer, type TestServer } from '../support/server';
import { validToken } from '../support/tokens';
import { until } from '../support/until';

/**
 * Two rows of the fault matrix against the real stack: many release managers starting a rollout of one
 * key at the same moment, and readers reading through a rollout while the config service they read
 * from is killed (SIGKILL, a real process) and restarted. What must hold: one rollout, one version
 * written, and no reader ever sees a version older than one it saw before.
 */
const KEY = 'tenant_config_featureFlags';
const clients = stackClients();
const instances: FleetMember[] = [];
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ rollouts: true });
}, 120_000);

afterAll(async () => {
  await Promise.all(instances.map((instance) => instance.client.stop()));
  await server.stop();
});

async function fleetOf(tenantId: string, service: string): Promise<FleetMember[]> {
  const members = [];
  for (const tenancy of [tenantId, 'pool']) {
    members.push(
      await startInstance({ server, clients, service, tenancy, preload: [{ tenantId, key: KEY }] }),
    );
  }
  instances.push(...members);
  return members;
}

test('ten release managers start a rollout of one key at once: one runs, nine get 409, one version is written', async () => {
  const tenantId = uniqueTenant('starts');
  const service = `starts-${randomUUID().slice(0, 6)}`;
  await server.store.put({ tenantId, key: KEY }, '{"v":1}', { expectedVersion: 0, makeLive: true });
  const fleet = await fleetOf(tenantId, service);

  const answers = await Promise.all(
    Array.from({ length: 10 }, (_, index) =>
      callApi(
        server.httpUrl,
        'POST',
        '/v1/rollouts',
        validToken({ tenantId, groups: ['release-managers'], subject: `rm-${index}` }),
        {
          key: KEY,
          value: `{"from":${index}}`,
          targetServices: [service],
          plan: { strategy: { kind: 'explicit', waves: ['100%'] }, bakeSeconds: 0, approval: 'none' },
        },
      ),
    ),
  );
  // Starts of one key hold one place of the tenant's running-rollouts quota (10) between them: the nine
  // that lose the race learn RolloutInProgress, never the quota's 429.
  expect(answers.map((answer) => answer.status).sort()).toEqual([202, ...Array<number>(9).fill(409)]);
  const accepted = answers.filter((answer) => answer.status === 202);
  const refused = answers.filter((answer) => answer.status === 409);
  for (const answer of refused) expect(answer.body.title).toBe('RolloutInProgress');

  const winner = answers.indexOf(accepted[0]!);
  const rolloutId = accepted[0]!.body.rolloutId as string;
  const operator = validToken({ tenantId, groups: ['operators'] });
  let state: unknown;
  for (let i = 0; i < 300 && state !== 'SUCCEEDED'; i += 1) {
    state = (await callApi(server.httpUrl, 'GET', `/v1/rollouts/${rolloutId}`, operator)).body.state;
    if (state !== 'SUCCEEDED') await sleep(100);
  }
  expect(state).toBe('SUCCEEDED');
  const history = await server.store.history({ tenantId, key: KEY });
  expect(history.map((entry) => entry.version)).toEqual([2, 1]);
  for (const member of fleet) {
    expect(await member.client.get(tenantId, KEY)).toMatchObject({
      version: 2,
      value: `{"from":${winner}}`,
    });
  }
}, 90_000);

test('readers never go backwards through a rollout, and are back once a killed config service returns', async () => {
  const tenantId = uniqueTenant('reads');
  const service = `reads-${randomUUID().slice(0, 6)}`;
  await server.store.put({ tenantId, key: KEY }, '{"v":1}', { expectedVersion: 0, makeLive: true });
  const fleet = await fleetOf(tenantId, service);
  const ports = { HTTP_PORT: String(await closedPort()), GRPC_PORT: String(await closedPort()) };
  let configService = spawnConfigService(ports);
  const token = validToken({ tenantId, groups: ['services'] });
  const readers = Array.from(
    { length: 3 },
    () =>
      new ConfigReaderClient(`127.0.0.1:${ports.GRPC_PORT}`, () => Promise.resolve(token), {
        deadlineMs: 1000,
      }),
  );
  const seen: { version?: number; failed?: true }[][] = readers.map(() => []);
  let reading = true;
  let loops: Promise<void>[] = [];
  try {
    await until('the config service answering', () =>
      readers[0]!.getLive({ tenantId, key: KEY }).then(() => true),
    );
    loops = readers.map(async (reader, index) => {
      while (reading) {
        const read = await reader.getLive({ tenantId, key: KEY }).then(
          (live) => ({ version: live?.version }),
          () => ({ failed: true as const }),
        );
        seen[index]!.push(read);
        await sleep(20);
      }
    });
    const handle = await startRollout(
      server.temporal!,
      {
        tenantId,
        key: KEY,
        change: { kind: 'set', value: '{"v":2}' },
        targetServices: [service],
        plan: {
          strategy: { kind: 'explicit', waves: [1, '100%'] },
          bakeSeconds: 2,
          approval: 'none',
          maxFailures: 0,
        },
        actor: 'alice',
      },
      server.taskQueue,
    );
    await until('the rollout baking', async () =>
      (await handle.query(progressQuery)).state === 'BAKING' ? true : undefined,
    );
    await kill(configService);
    await sleep(1500);
    configService = spawnConfigService(ports);

    expect(await handle.result()).toMatchObject({
      state: 'SUCCEEDED',
      candidateVersion: 2,
      updatedInstances: 2,
    });
    await until('the config service answering', () =>
      readers[0]!.getLive({ tenantId, key: KEY }).then(() => true),
    );
    // The service's read cache lives 1 s: a read after it sees the promotion.
    await sleep(1500);
  } finally {
    reading = false;
    await Promise.all(loops);
    readers.forEach((reader) => reader.close());
    await kill(configService);
  }
  for (const reads of seen) {
    const versions = reads.flatMap((read) => (read.version === undefined ? [] : [read.version]));
    expect(versions.length).toBeGreaterThan(0);
    // Never backwards: each version at least the one before it.
    expect(versions.every((version, i) => i === 0 || version >= versions[i - 1]!)).toBe(true);
    expect(versions.at(-1)).toBe(2);
    // The kill happened under the readers: some reads failed, and reads succeeded after them.
    const firstFailure = reads.findIndex((read) => read.failed);
    expect(firstFailure).toBeGreaterThan(0);
    expect(reads.slice(firstFailure).some((read) => read.version !== undefined)).toBe(true);
  }
  for (const member of fleet) expect((await member.client.get(tenantId, KEY))?.version).toBe(2);
  expect((await server.store.history({ tenantId, key: KEY })).map((entry) => entry.version)).toEqual([2, 1]);
}, 120_000);
