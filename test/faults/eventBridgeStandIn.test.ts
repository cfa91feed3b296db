import { setTimeout as sleep } from 'node:timers/promises';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { DeleteQueueCommand, GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { PutParameterCommand } from '@aws-sdk/client-ssm';
import { loadAwsSettings } from '../../common/settings';
import { stackClients, uniqueTenant } from '../support/env';
import { terminateLeftoverRollouts } from '../support/leftoverRollouts';

/**
 * The local EventBridge stand-in when its queue vanishes (as when the emulator restarts). Tried by hand
 * on main: it failed every poll while its /healthz still said 200, so out-of-band edits were dropped
 * without a word. Now it says 503 with the reason, makes its rule and queue again, and delivers.
 */
const REPO = path.join(__dirname, '..', '..');
const clients = stackClients();
const sqs = new SQSClient({
  region: loadAwsSettings().region,
  endpoint: process.env.AWS_ENDPOINT_URL_EVENTBRIDGE,
});
const tenantId = uniqueTenant('ebfault');
const rule = `fault-${randomUUID().slice(0, 8)}`;
let standIn: ChildProcess;
let log = '';

beforeAll(async () => {
  standIn = spawn(process.execPath, ['--require', 'tsx/cjs', 'scripts/local-eventbridge.ts'], {
    cwd: REPO,
    env: {
      ...process.env,
      LOCAL_EVENTBRIDGE_PORT: '0',
      LOCAL_EVENTBRIDGE_PATH: `/config-service/${tenantId}`,
      LOCAL_EVENTBRIDGE_RULE: rule,
      LOCAL_EVENTBRIDGE_POLL_MS: '300',
      // The rollout the edit starts has no worker here: on a queue of its own, no stack worker takes it
      // up later, and afterAll ends it.
      TEMPORAL_TASK_QUEUE: `${rule}-rollouts`,
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  standIn.stdout?.on('data', (chunk: Buffer) => (log += chunk.toString()));
  standIn.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()));
  await until('the stand-in to watch', async () => log.includes('watching Parameter Store'));
}, 60_000);

afterAll(async () => {
  standIn?.kill('SIGTERM');
  sqs.destroy();
  await terminateLeftoverRollouts(tenantId);
});

async function until(what: string, condition: () => Promise<boolean>): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt += 1) {
    if (await condition().catch(() => false)) return;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}; stand-in log:\n${log}`);
}

function healthPort(): number {
  const match = /"healthPort":(\d+)/.exec(log);
  if (!match) throw new Error(`the stand-in logged no health port:\n${log}`);
  return Number(match[1]);
}

async function healthz(): Promise<{ status: number; body: { status: string; reason?: string } }> {
  const response = await fetch(`http://127.0.0.1:${healthPort()}/healthz`);
  return { status: response.status, body: (await response.json()) as { status: string; reason?: string } };
}

test('a lost queue makes /healthz 503 with the reason; the stand-in makes it again and delivers the next edit', async () => {
  await until('a healthy stand-in', async () => (await healthz()).status === 200);

  const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: `${rule}-target` }));
  await sqs.send(new DeleteQueueCommand({ QueueUrl }));
  let unhealthy: Awaited<ReturnType<typeof healthz>> | undefined;
  await until('an unhealthy stand-in', async () => {
    const answer = await healthz();
    if (answer.status === 503) unhealthy = answer;
    return unhealthy !== undefined;
  });
  expect(unhealthy?.body).toEqual({
    status: 'unhealthy',
    reason: expect.stringMatching(/^the last poll failed: /) as unknown,
  });

  await until('a healthy stand-in again', async () => (await healthz()).status === 200);
  const name = `/config-service/${tenantId}/orders/param_config_endpoint`;
  await clients.ssm.send(
    new PutParameterCommand({ Name: name, Value: 'https://v1.example', Type: 'String' }),
  );
  await until('the edit delivered to the handler', async () =>
    log.split('\n').some((line) => line.includes('"delivered"') && line.includes(name)),
  );
});

test('its /metrics counts the failed polls and the delivery by outcome, naming no parameter or value', async () => {
  const response = await fetch(`http://127.0.0.1:${healthPort()}/metrics`);
  expect(response.status).toBe(200);
  const text = await response.text();
  const sample = (series: string) => Number(new RegExp(`^${series} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  expect(sample('cfg_out_of_band_polls_total\\{result="failed"\\}')).toBeGreaterThan(0);
  expect(sample('cfg_out_of_band_polls_total\\{result="ok"\\}')).toBeGreaterThan(0);
  const delivered = [...text.matchAll(/^cfg_out_of_band_deliveries_total\{outcome="([^"]+)"\} (\S+)$/gm)];
  // One delivery, counted by the handler's outcome: `already-rolling-out` when another stand-in on the
  // same Parameter Store (the demo's, say) handed the edit to the handler first.
  expect(delivered).toHaveLength(1);
  expect(['started', 'already-rolling-out']).toContain(delivered[0]![1]);
  expect(delivered[0]![2]).toBe('1');
  expect(text).not.toContain(tenantId);
  expect(text).not.toContain('v1.example');
});
