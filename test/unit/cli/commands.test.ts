import type { Rollout } from '../../../common/api/rollouts';
import { run } from '../../../cli/main';

/**
 * The command line through commander to the HTTP requests it makes and the exit codes it answers, with
 * fetch faked at the boundary; test/integration/cfgctlRollouts.test.ts runs the same against the real API.
 */
const ID = '0b5c3a1e-8a6f-4e0b-9d39-3c1f0a7e9b21~tenant_config_flags';
const API = 'http://api.test';

interface Sent {
  readonly method: string;
  readonly url: string;
  readonly body?: unknown;
  readonly authorization?: string;
}

let sent: Sent[];
let stdout: string;
let stderr: string;

beforeEach(() => {
  sent = [];
  stdout = '';
  stderr = '';
  process.env.CFG_TOKEN = 'token-1';
  jest.spyOn(process.stdout, 'write').mockImplementation((text) => {
    stdout += String(text);
    return true;
  });
  jest.spyOn(process.stderr, 'write').mockImplementation((text) => {
    stderr += String(text);
    return true;
  });
});

afterEach(() => {
  jest.restoreAllMocks();
  delete process.env.CFG_TOKEN;
});

/** Answers each request with the first route whose path matches, and records what was sent. */
function fakeApi(routes: Record<string, (signal?: AbortSignal) => Response>): void {
  jest.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const headers = new Headers(init?.headers);
    sent.push({
      method: init?.method ?? 'GET',
      url: `${url.pathname}${url.search}`,
      ...(typeof init?.body === 'string' ? { body: JSON.parse(init.body) as unknown } : {}),
      authorization: headers.get('authorization') ?? undefined,
    });
    const route = Object.keys(routes).find((path) => url.pathname === path);
    if (!route) throw new Error(`unexpected request ${url.pathname}`);
    return routes[route]!(init?.signal ?? undefined);
  });
}

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

function rollout(state: Rollout['state']): Rollout {
  return {
    rolloutId: ID,
    workflowId: 'rollout:acme:-:tenant_config_flags',
    state,
    key: 'tenant_config_flags',
    waves: [{ index: 0, targetInstances: 1, updated: 1, failed: 0, state: 'done' }],
    instances: { total: 1, updated: 1, failed: 0, pending: 0, reverted: 0 },
    audit: [],
  };
}

/** An event stream of these progress states, then `end` unless `open`: a stream that closes early. */
function events(states: readonly Rollout['state'][], options: { end: boolean } = { end: true }): Response {
  const text =
    states
      .map((state) => `event: progress\ndata: ${JSON.stringify(rollout(state))}\n\n: still running\n\n`)
      .join('') + (options.end ? `event: end\ndata: {"state":"${states[states.length - 1]}"}\n\n` : '');
  return new Response(text, { status: 200, headers: { 'content-type': 'text/event-stream' } });
}

const cfgctl = (...args: string[]) => run(['node', 'cfgctl', '--api-url', API, ...args]);

test('rollout start sends the options as a StartRollout body and prints the rollout id', async () => {
  fakeApi({ '/v1/rollouts': () => json(202, { rolloutId: ID, workflowId: 'w', state: 'PREPARING' }) });
  const code = await cfgctl(
    'rollout',
    'start',
    'tenant_config_flags',
    '--value',
    '{"beta":true}',
    '--target',
    'orders',
    '--target',
    'billing',
    '--waves',
    '1,50%,100%',
    '--bake',
    '0',
    '--approval',
    'after-first-wave',
    '--max-failures',
    '10%',
    '--push-timeout',
    '500',
  );
  expect(code).toBe(0);
  expect(sent).toEqual([
    {
      method: 'POST',
      url: '/v1/rollouts',
      authorization: 'Bearer token-1',
      body: {
        key: 'tenant_config_flags',
        value: '{"beta":true}',
        targetServices: ['orders', 'billing'],
        plan: {
          strategy: { kind: 'explicit', waves: [1, '50%', '100%'] },
          bakeSeconds: 0,
          approval: 'after-first-wave',
          maxFailures: '10%',
          push: { timeoutMs: 500, attempts: 3, concurrency: 32 },
        },
      },
    },
  ]);
  expect(stdout).toBe(`${ID}\n`);
});

test('rollout start --watch --json is newline-delimited JSON throughout, and exits with the end state', async () => {
  fakeApi({
    '/v1/rollouts': () => json(202, { rolloutId: ID, workflowId: 'w', state: 'PREPARING' }),
    [`/v1/rollouts/${ID}/events`]: () => events(['ROLLING_OUT', 'ROLLED_BACK']),
  });
  const code = await cfgctl('--json', 'rollout', 'start', 'tenant_config_flags', '--version', '3', '--watch');
  expect(code).toBe(8);
  expect(sent[0]?.body).toEqual({ key: 'tenant_config_flags', version: 3 });
  const lines = stdout
    .trimEnd()
    .split('\n')
    .map((line) => JSON.parse(line) as { state: string });
  expect(lines.map((line) => line.state)).toEqual(['PREPARING', 'ROLLING_OUT', 'ROLLED_BACK']);
});

test('a bad --waves is a usage error naming the option, and nothing is sent', async () => {
  fakeApi({});
  expect(await cfgctl('rollout', 'start', 'tenant_config_flags', '--value', 'x', '--waves', '1,ten%')).toBe(
    2,
  );
  expect(stderr).toMatch(/option '--waves <list>' argument '1,ten%' is invalid/);
  expect(sent).toEqual([]);
});

test('steering posts the reason and prints the resulting state', async () => {
  fakeApi({ [`/v1/rollouts/${ID}/pause`]: () => json(200, rollout('PAUSED')) });
  expect(await cfgctl('rollout', 'pause', ID, '--reason', 'error rate')).toBe(0);
  expect(sent[0]).toMatchObject({ method: 'POST', body: { reason: 'error rate' } });
  expect(stdout).toBe(`pause accepted; rollout ${ID} is PAUSED\n`);
});

test('the API problem is printed with its detail and field, and its status picks the exit code', async () => {
  fakeApi({
    [`/v1/rollouts/${ID}/approve`]: () =>
      json(409, {
        type: 'urn:config-rollout:problem:RolloutStateConflict',
        title: 'RolloutStateConflict',
        status: 409,
        detail: 'cannot approve: rollout is BAKING',
        field: 'rolloutId',
      }),
  });
  expect(await cfgctl('rollout', 'approve', ID)).toBe(6);
  expect(stderr).toBe('error: RolloutStateConflict: cannot approve: rollout is BAKING (field: rolloutId)\n');
});

test.each([
  ['SUCCEEDED', 0],
  ['ROLLED_BACK', 8],
  ['FAILED', 9],
] as const)(
  'status --watch follows the events and exits with the end state: %s -> %d',
  async (state, code) => {
    fakeApi({ [`/v1/rollouts/${ID}/events`]: () => events(['ROLLING_OUT', 'BAKING', state]) });
    expect(await cfgctl('rollout', 'status', ID, '--watch')).toBe(code);
    expect(stdout).toContain(`state ${state}`);
    expect(sent.map((s) => s.url)).toEqual([`/v1/rollouts/${ID}/events`]);
  },
);

test('status --watch --json prints one JSON object per progress event', async () => {
  fakeApi({ [`/v1/rollouts/${ID}/events`]: () => events(['BAKING', 'SUCCEEDED']) });
  expect(await cfgctl('--json', 'rollout', 'status', ID, '--watch')).toBe(0);
  expect(
    stdout
      .trimEnd()
      .split('\n')
      .map((line) => (JSON.parse(line) as Rollout).state),
  ).toEqual(['BAKING', 'SUCCEEDED']);
});

test('a stream that closes early: the rollout is read once more; still running is exit 7 with how to resume', async () => {
  fakeApi({
    [`/v1/rollouts/${ID}/events`]: () => events(['BAKING'], { end: false }),
    [`/v1/rollouts/${ID}`]: () => json(200, rollout('BAKING')),
  });
  expect(await cfgctl('rollout', 'status', ID, '--watch')).toBe(7);
  expect(stderr).toContain(`the event stream closed while rollout ${ID} was BAKING`);
  expect(stderr).toContain(`cfgctl rollout status ${ID} --watch`);
});

test('a stream that closes early after the rollout ended still exits with its end state', async () => {
  fakeApi({
    [`/v1/rollouts/${ID}/events`]: () => events(['BAKING'], { end: false }),
    [`/v1/rollouts/${ID}`]: () => json(200, rollout('ROLLED_BACK')),
  });
  expect(await cfgctl('rollout', 'status', ID, '--watch')).toBe(8);
  expect(stdout).toContain('state ROLLED_BACK');
});

test('an API that dies mid-watch is exit 7, saying the connection broke and how to resume', async () => {
  fakeApi({
    [`/v1/rollouts/${ID}/events`]: () => {
      // One event, then the connection drops: fetch errors the body with TypeError("terminated").
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(
            new TextEncoder().encode(`event: progress\ndata: ${JSON.stringify(rollout('BAKING'))}\n\n`),
          );
          setImmediate(() => controller.error(new TypeError('terminated')));
        },
      });
      return new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream' } });
    },
  });
  expect(await cfgctl('rollout', 'status', ID, '--watch')).toBe(7);
  expect(stdout).toContain('BAKING');
  expect(stderr).toContain(`the connection to the API broke while watching rollout ${ID} (terminated)`);
  expect(stderr).toContain(`cfgctl rollout status ${ID} --watch`);
});

test('Ctrl-C stops watching cleanly (exit 130) and says the rollout goes on', async () => {
  fakeApi({
    [`/v1/rollouts/${ID}/events`]: (signal) => {
      // One event, then open like a rollout waiting for approval; an abort errors the body, as in fetch.
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          signal?.addEventListener('abort', () => controller.error(signal.reason));
          controller.enqueue(
            new TextEncoder().encode(
              `event: progress\ndata: ${JSON.stringify(rollout('AWAITING_APPROVAL'))}\n\n`,
            ),
          );
        },
      });
      return new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream' } });
    },
  });
  const watching = cfgctl('rollout', 'status', ID, '--watch');
  while (!stdout.includes('AWAITING_APPROVAL')) await new Promise((resolve) => setImmediate(resolve));
  process.emit('SIGINT');
  expect(await watching).toBe(130);
  expect(stderr).toContain(`stopped watching; rollout ${ID} goes on`);
  expect(process.listenerCount('SIGINT')).toBe(0);
});
