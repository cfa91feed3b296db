import { setTimeout as sleep } from 'node:timers/promises';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { destroyAwsClients } from '../../activities/awsClients';
import { runCfgctl } from '../support/cli';
import { stackClients, uniqueTenant } from '../support/env';
import { terminateLeftoverRollouts } from '../support/leftoverRollouts';
import { type FleetMember, startInstance } from '../support/fleet';
import { startTestServer, type TestServer } from '../support/server';
import { validToken } from '../support/tokens';

/**
 * `cfgctl rollout status --watch` while the API dies under it. Tried by hand on main: it exited 1
 * ("terminated") where the README promises 7, the exit code for an API that cannot be reached.
 */
const KEY = 'tenant_config_featureFlags';
const CFGCTL = path.join(__dirname, '..', '..', 'bin', 'cfgctl.js');
const clients = stackClients();
let server: TestServer | undefined;
const instances: FleetMember[] = [];
const tenant = uniqueTenant('watch');

afterAll(async () => {
  await Promise.all(instances.map((instance) => instance.client.stop()));
  await server?.stop();
  // Its rollout bakes for 600 s, and its worker stopped with the server.
  await terminateLeftoverRollouts(tenant);
  destroyAwsClients(clients);
});

test('the API stopping mid-watch ends the watch with exit 7, saying the connection broke and how to resume', async () => {
  server = await startTestServer({ rollouts: true });
  const service = `orders-${randomUUID().slice(0, 6)}`;
  await server.store.put({ tenantId: tenant, key: KEY }, '{"v":1}', { expectedVersion: 0, makeLive: true });
  instances.push(
    await startInstance({
      server,
      clients,
      service,
      tenancy: tenant,
      preload: [{ tenantId: tenant, key: KEY }],
    }),
  );
  const token = validToken({ tenantId: tenant, groups: ['release-managers'], subject: 'alice' });
  const started = await runCfgctl(
    server.httpUrl,
    ['rollout', 'start', KEY, '--value', '{"v":2}', '--target', service, '--waves', '100%', '--bake', '600'],
    token,
  );
  expect(started.code).toBe(0);
  const rolloutId = started.stdout.trim();

  const watch = spawn(process.execPath, [CFGCTL, '--json', 'rollout', 'status', rolloutId, '--watch'], {
    env: { ...process.env, CFG_API_URL: server.httpUrl, CFG_TOKEN: token },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  watch.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  watch.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => watch.once('exit', resolve));

  for (let attempt = 0; attempt < 300 && !stdout.includes('"BAKING"'); attempt += 1) {
    await sleep(100);
  }
  expect(stdout).toContain('"BAKING"');
  await server.stop();
  server = undefined;

  expect(await exited).toBe(7);
  expect(stderr).toContain(`the connection to the API broke while watching rollout ${rolloutId}`);
  expect(stderr).toContain(`cfgctl rollout status ${rolloutId} --watch`);
  // A server that stops gracefully says why before the stream closes.
  expect(stderr).toContain('the server is shutting down');
}, 90_000);
