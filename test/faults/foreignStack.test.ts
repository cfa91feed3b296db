import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  COMPONENTS,
  ownerEnv,
  portAnswers,
  stackStatus,
  stackUp,
  STACK_HOST,
} from '../../scripts/stack/index';
import { closedPort } from '../support/ports';

/**
 * Two checkouts on one machine. Seen before: a stack component answering on a port, started by another
 * checkout with other keys, was reused silently, and 86 tests then failed on unknown signing keys. Now
 * `up` refuses a port held by anything this stack did not start, and says whose it is and how to run
 * on other ports. This starts a real moto as another checkout's stack would, on ports of its own, and
 * checks this checkout's stack (with its own private state directory) refuses it.
 */
const savedEnv = { ...process.env };
const scratch = mkdtempSync(path.join(os.tmpdir(), 'foreign-stack-'));
const otherCheckout = path.join(scratch, 'other-checkout');
let otherMoto: ChildProcess | undefined;
let stranger: Server | undefined;

beforeAll(async () => {
  process.env.MOTO_PORT = String(await closedPort());
  process.env.DYNAMODB_PORT = String(await closedPort());
  // What the other checkout's `stack up` would launch, with its own data directory and its name.
  process.env.STACK_STATE_DIR = path.join(otherCheckout, '.local');
  const spec = COMPONENTS.find((component) => component.name === 'moto')!.launch();
  otherMoto = spawn(spec.command, spec.args, {
    env: { ...process.env, ...ownerEnv({ checkout: otherCheckout, stateDir: process.env.STACK_STATE_DIR }) },
    stdio: 'ignore',
  });
  for (let attempt = 0; !(await portAnswers(Number(process.env.MOTO_PORT))); attempt += 1) {
    if (attempt > 300) throw new Error('the other checkout’s moto did not start in 30 s');
    await sleep(100);
  }
  process.env.STACK_STATE_DIR = path.join(scratch, 'this-checkout');
}, 60_000);

afterAll(async () => {
  otherMoto?.kill('SIGKILL');
  await new Promise((resolve) => (stranger ? stranger.close(resolve) : resolve(undefined)));
  process.env = savedEnv;
  rmSync(scratch, { recursive: true, force: true });
});

test("a moto started by another checkout's stack is refused, naming that checkout and the port variables", async () => {
  const port = process.env.MOTO_PORT;
  const attempt = stackUp({ tiers: ['infrastructure'], only: ['moto'] }, () => {});
  await expect(attempt).rejects.toThrow(
    new RegExp(
      `port ${port} \\(MOTO_PORT\\) is held by pid ${otherMoto!.pid}, started by the stack of the checkout ` +
        `${otherCheckout}, not by this stack`,
    ),
  );
  await expect(attempt).rejects.toThrow(/set TEMPORAL_PORT, TEMPORAL_UI_PORT, DYNAMODB_PORT, MOTO_PORT,/);

  const moto = (await stackStatus()).find((status) => status.name === 'moto');
  expect(moto).toMatchObject({ state: 'foreign', holder: expect.stringContaining(otherCheckout) as string });
});

test('a port held by a process no stack started is refused, naming the process', async () => {
  stranger = createServer();
  await new Promise<void>((resolve) =>
    stranger!.listen(Number(process.env.DYNAMODB_PORT), STACK_HOST, resolve),
  );
  await expect(stackUp({ tiers: ['infrastructure'], only: ['dynamodb'] }, () => {})).rejects.toThrow(
    new RegExp(
      `port ${process.env.DYNAMODB_PORT} \\(DYNAMODB_PORT\\) is held by pid ${process.pid} \\(.+\\), ` +
        `which no checkout's stack started`,
    ),
  );
});
