import type { Rollout, TimelineEntry } from '../../common/api/rollouts';
import { runCfgctl } from '../support/cli';
import { stackClients, uniqueTenant } from '../support/env';
import { recordedTraffic, startFleetHolding } from '../support/canaryFleet';
import type { FleetMember } from '../support/fleet';
import { callApi } from '../support/restApi';
import { startTestServer, type TestServer } from '../support/server';
import { validToken } from '../support/tokens';

/**
 * The canary gate through the release manager's tools: `cfgctl rollout start --canary-*` against the
 * real REST API and worker, real SDK instances recording their traffic; status and history show each
 * wave's analysis; bad settings are refused naming the field or the option.
 */
const KEY = 'tenant_config_canaryCli';
const clients = stackClients();
let server: TestServer;
let tenant: string;
let service: string;
let fleet: FleetMember[] = [];

const releaseManager = () => validToken({ tenantId: tenant, groups: ['release-managers'], subject: 'alice' });
const cfgctl = (args: string[]) => runCfgctl(server.httpUrl, args, releaseManager());

beforeAll(async () => {
  server = await startTestServer({ rollouts: true });
  tenant = uniqueTenant('canarycli');
  const world = await startFleetHolding({
    server,
    clients,
    key: KEY,
    tenants: [tenant],
    tenancy: 'silo',
    size: 4,
  });
  ({ service, fleet } = world);
}, 120_000);

afterAll(async () => {
  await Promise.all(fleet.map((member) => member.client.stop()));
  await server?.stop();
});

test('rollout start --canary-* sets plan.canary; status and history show each wave’s analysis', async () => {
  const stop = recordedTraffic(fleet, tenant, KEY, () => 0.01);
  let rolloutId = '';
  try {
    const started = await cfgctl(
      [
        'rollout',
        'start',
        KEY,
        '--value',
        '{"v":2}',
        '--target',
        service,
        '--waves',
        '2,100%',
        '--bake',
        '2',
      ].concat([
        '--canary-min-samples',
        '50',
        '--canary-confidence',
        '0.99',
        '--canary-max-extra-bake',
        '1m',
        '--canary-on-insufficient',
        'fail',
        '--watch',
      ]),
    );
    expect(started.code).toBe(0);
    expect(started.stdout).toMatch(
      / {2}canary passed: candidate v2 error ratio \d+\.\d\d% \(\d+\/\d+ requests, 2 instance/,
    );
    expect(started.stdout).toContain('state SUCCEEDED');
    // The id first, then the watch.
    rolloutId = started.stdout.split('\n')[0]!;
  } finally {
    stop();
  }
  const status = await cfgctl(['rollout', 'status', rolloutId]);
  expect(status.stdout).toMatch(/wave 1\/2 .*\n {2}canary passed: .*z = -?\d+\.\d\d <= 2\.326/);
  expect(status.stdout).toMatch(/wave 2\/2 .*\n {2}canary skipped: the last wave leaves no instance on live/);
  const json = JSON.parse((await cfgctl(['--json', 'rollout', 'status', rolloutId])).stdout) as Rollout;
  expect(json.waves[0]?.canary).toMatchObject({ verdict: 'passed', candidate: { instances: 2 } });

  const history = JSON.parse((await cfgctl(['--json', 'rollout', 'history', rolloutId])).stdout) as {
    items: TimelineEntry[];
  };
  const canary = history.items.filter((entry) => entry.kind === 'canary').map((entry) => entry.summary);
  expect(canary).toEqual([
    expect.stringMatching(/^wave 1 passed: /),
    expect.stringMatching(/^wave 2 skipped: /),
  ]);
  expect((await cfgctl(['rollout', 'history', rolloutId])).stdout).toMatch(/canary +wave 1 passed: /);
}, 60_000);

test('bad canary settings are refused naming the field (REST) or the option (cfgctl), before anything is written', async () => {
  const start = (canary: unknown, bakeSeconds = 60) =>
    callApi(server.httpUrl, 'POST', '/v1/rollouts', releaseManager(), {
      key: KEY,
      value: '{"v":9}',
      targetServices: [service],
      plan: { bakeSeconds, canary },
    });
  for (const [canary, field] of [
    [{ minSamples: 5 }, 'minSamples'],
    [{ confidence: 1 }, 'confidence'],
    [{ onInsufficientSamples: 'maybe' }, 'onInsufficientSamples'],
    [{ peek: true }, 'peek'],
  ] as const) {
    const refused = await start(canary);
    expect(refused.status).toBe(400);
    expect(JSON.stringify(refused.body)).toContain(field);
  }
  // Past the hour a wave may bake in all: the plan check names the field.
  const tooLong = await start({ maxExtraBakeSeconds: 3600 });
  expect(tooLong.status).toBe(400);
  expect(JSON.stringify(tooLong.body)).toContain('plan.canary.maxExtraBakeSeconds');

  for (const [option, value] of [
    ['--canary-confidence', '1.5'],
    ['--canary-max-extra-bake', '2h'],
    ['--canary-min-samples', '1'],
    ['--canary-on-insufficient', 'maybe'],
  ]) {
    const refused = await cfgctl([
      'rollout',
      'start',
      KEY,
      '--value',
      '{"v":9}',
      '--target',
      service,
      option!,
      value!,
    ]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(option);
  }
  expect((await server.store.history({ tenantId: tenant, key: KEY })).map((entry) => entry.version)).toEqual([
    2, 1,
  ]);
});
