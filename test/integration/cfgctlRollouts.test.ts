import { setTimeout as sleep } from 'node:timers/promises';
import { randomUUID } from 'node:crypto';
import { destroyAwsClients } from '../../activities/awsClients';
import type { Rollout, RolloutPage, TimelineEntry } from '../../common/api/rollouts';
import { runCfgctl } from '../support/cli';
import { stackClients, uniqueTenant } from '../support/env';
import { type FleetMember, startInstance } from '../support/fleet';
import { startTestServer, type TestServer } from '../support/server';
import { validToken } from '../support/tokens';

/**
 * Release managers' rollouts through the real cfgctl binary, against the real REST API with its rollout
 * routes: the stack's Temporal dev server, an in-process rollout worker and real SDK instances.
 */
const KEYS = {
  gated: 'tenant_config_featureFlags',
  watched: 'tenant_config_checkout',
  aborted: 'tenant_config_payments',
} as const;

let server: TestServer;
let tenant: string;
let service: string;
const clients = stackClients();
const instances: FleetMember[] = [];
/** The gated rollout's id, which the tenant-isolation test asks for with another tenant's token. */
let gatedRolloutId: string;

const releaseManager = (subject: string) =>
  validToken({ tenantId: tenant, groups: ['release-managers'], subject });
const operator = () => validToken({ tenantId: tenant, groups: ['operators'], subject: 'olivia' });

beforeAll(async () => {
  server = await startTestServer({ rollouts: true });
  tenant = uniqueTenant('cli');
  service = `orders-${randomUUID().slice(0, 6)}`;
  for (const key of Object.values(KEYS)) {
    await server.store.put({ tenantId: tenant, key }, '{"v":1}', { expectedVersion: 0, makeLive: true });
  }
  // Two instances of the tenant's own service, so a plan of 1,100% has a canary wave to wait after.
  for (let i = 0; i < 2; i += 1) {
    instances.push(
      await startInstance({
        server,
        clients,
        service,
        tenancy: tenant,
        preload: Object.values(KEYS).map((key) => ({ tenantId: tenant, key })),
      }),
    );
  }
}, 120_000);

afterAll(async () => {
  await Promise.all(instances.map((instance) => instance.client.stop()));
  destroyAwsClients(clients);
  await server?.stop();
});

const cfgctl = (args: string[], token: string) => runCfgctl(server.httpUrl, args, token);

/** `rollout start` with the gate this file exercises; prints the id alone. */
async function startGated(key: string, value: string): Promise<string> {
  const started = await cfgctl(
    ['rollout', 'start', key, '--value', value, '--target', service, '--waves', '1,100%'].concat([
      '--approval',
      'after-first-wave',
      '--bake',
      '0',
    ]),
    releaseManager('alice'),
  );
  expect(started).toMatchObject({ code: 0, stderr: '' });
  expect(started.stdout).toMatch(new RegExp(`^[0-9a-f-]{36}~${key}\\n$`));
  return started.stdout.trim();
}

async function waitForState(rolloutId: string, state: string): Promise<Rollout> {
  let last = '';
  for (let attempt = 0; attempt < 60; attempt += 1) {
    const status = await cfgctl(['--json', 'rollout', 'status', rolloutId], releaseManager('alice'));
    if (status.code === 0) {
      const rollout = JSON.parse(status.stdout) as Rollout;
      if (rollout.state === state) return rollout;
      last = rollout.state;
    } else {
      last = status.stderr;
    }
    await sleep(500);
  }
  throw new Error(`rollout ${rolloutId} never reached ${state} (last: ${last})`);
}

test('a release manager starts a gated rollout, another approves it, the watch exits 0, history names both', async () => {
  gatedRolloutId = await startGated(KEYS.gated, '{"v":2}');
  await waitForState(gatedRolloutId, 'AWAITING_APPROVAL');

  const status = await cfgctl(['rollout', 'status', gatedRolloutId], operator());
  expect(status.code).toBe(0);
  expect(status.stdout).toContain('state AWAITING_APPROVAL');
  expect(status.stdout).toMatch(/wave 1\/2 .*1\/1 updated, 0 failed {2}awaiting-approval/);

  const approved = await cfgctl(
    ['rollout', 'approve', gatedRolloutId, '--reason', 'canary is healthy'],
    releaseManager('bob'),
  );
  expect(approved.code).toBe(0);
  expect(approved.stdout).toMatch(new RegExp(`^approve accepted; rollout ${gatedRolloutId} is [A-Z_]+\\n$`));

  // Not a terminal here: the watch prints lines as they change and ends on the final state.
  const watched = await cfgctl(['rollout', 'status', gatedRolloutId, '--watch'], operator());
  expect(watched).toMatchObject({ code: 0, stderr: '' });
  expect(watched.stdout).toContain('state SUCCEEDED  instances 2/2 updated, 0 failed, 0 pending');
  expect(watched.stdout).toContain(`${KEYS.gated}  v1 → v2`);

  const history = await cfgctl(['rollout', 'history', gatedRolloutId], operator());
  expect(history.code).toBe(0);
  expect(history.stdout).toMatch(/^TIME +KIND +SUMMARY +ACTOR\n/);
  const timeline = await cfgctl(['--json', 'rollout', 'history', gatedRolloutId], operator());
  const items = (JSON.parse(timeline.stdout) as { items: TimelineEntry[] }).items;
  expect(items.find((entry) => entry.kind === 'started')?.actor).toBe('alice');
  expect(items.find((entry) => entry.kind === 'action')?.actor).toBe('bob');
  expect(history.stdout).toMatch(/started .*alice\n/);
  expect(history.stdout).toMatch(/action .*bob\n/);

  const config = await cfgctl(['config', 'history', KEYS.gated], operator());
  expect(config.code).toBe(0);
  expect(config.stdout).toMatch(/^v2 +live +\S+ +\S+ +\{"v":2\}$/m);
  expect(config.stdout).toMatch(/^v1 {2,}\S+/m);
}, 120_000);

test('rollout list --key finds the rollout with its end state', async () => {
  // The list comes from Temporal's visibility store, which catches up within moments.
  let page: RolloutPage = { items: [] };
  for (let attempt = 0; attempt < 20 && page.items[0]?.state !== 'SUCCEEDED'; attempt += 1) {
    const listed = await cfgctl(['--json', 'rollout', 'list', '--key', KEYS.gated], operator());
    expect(listed.code).toBe(0);
    page = JSON.parse(listed.stdout) as RolloutPage;
    await sleep(500);
  }
  expect(page.items).toEqual([
    expect.objectContaining({ rolloutId: gatedRolloutId, key: KEYS.gated, state: 'SUCCEEDED' }),
  ]);
  const table = await cfgctl(['rollout', 'list', '--key', KEYS.gated], operator());
  expect(table.stdout).toMatch(new RegExp(`^${gatedRolloutId} +${KEYS.gated} +SUCCEEDED `, 'm'));
});

test('rollout start --watch prints the id, follows the rollout and exits 0 once it succeeds', async () => {
  const started = await cfgctl(
    ['rollout', 'start', KEYS.watched, '--value', '{"v":2}', '--target', service].concat([
      '--waves',
      '100%',
      '--bake',
      '0',
      '--watch',
    ]),
    releaseManager('alice'),
  );
  expect(started).toMatchObject({ code: 0, stderr: '' });
  const [id, ...progress] = started.stdout.trimEnd().split('\n');
  expect(id).toMatch(new RegExp(`^[0-9a-f-]{36}~${KEYS.watched}$`));
  expect(progress).toContain('state SUCCEEDED  instances 2/2 updated, 0 failed, 0 pending');
}, 120_000);

test('an aborted rollout rolls back, and its watch exits 8', async () => {
  const rolloutId = await startGated(KEYS.aborted, '{"v":2}');
  await waitForState(rolloutId, 'AWAITING_APPROVAL');
  const aborted = await cfgctl(
    ['rollout', 'abort', rolloutId, '--reason', 'wrong value'],
    releaseManager('bob'),
  );
  expect(aborted.code).toBe(0);

  const watched = await cfgctl(['--json', 'rollout', 'status', rolloutId, '--watch'], operator());
  expect(watched.code).toBe(8);
  const states = watched.stdout
    .trimEnd()
    .split('\n')
    .map((line) => (JSON.parse(line) as Rollout).state);
  expect(states[states.length - 1]).toBe('ROLLED_BACK');
  expect(await server.store.getLive({ tenantId: tenant, key: KEYS.aborted })).toMatchObject({ version: 1 });
}, 120_000);

test('an operator cannot start or approve a rollout: exit 4 with the reason', async () => {
  const started = await cfgctl(
    ['rollout', 'start', KEYS.watched, '--value', '{"v":3}', '--target', service],
    operator(),
  );
  expect(started.code).toBe(4);
  expect(started.stderr).toMatch(/^error: PermissionDenied: .+/);

  const approved = await cfgctl(['rollout', 'approve', gatedRolloutId], operator());
  expect(approved.code).toBe(4);
  expect(approved.stderr).toMatch(/^error: PermissionDenied: .+/);
});

test('another tenant’s token gets "not found" for the rollout id: exit 5', async () => {
  const stranger = validToken({
    tenantId: uniqueTenant('other'),
    groups: ['release-managers'],
    subject: 'mallory',
  });
  for (const args of [
    ['rollout', 'status', gatedRolloutId],
    ['rollout', 'history', gatedRolloutId],
    ['rollout', 'abort', gatedRolloutId],
  ]) {
    const got = await cfgctl(args, stranger);
    expect(got.code).toBe(5);
    expect(got.stderr).toMatch(/^error: NotFound: .*not found/);
  }
});

test('a bad --waves is a usage error naming the option: exit 2, nothing started', async () => {
  const got = await cfgctl(
    ['rollout', 'start', KEYS.watched, '--value', '{"v":3}', '--target', service, '--waves', '1,0%,100%'],
    releaseManager('alice'),
  );
  expect(got.code).toBe(2);
  expect(got.stderr).toMatch(/option '--waves <list>' argument '1,0%,100%' is invalid\. "0%" is neither/);
});
