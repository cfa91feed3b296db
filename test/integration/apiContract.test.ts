import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { toolPath } from '../../scripts/stack/index';
import { uniqueTenant } from '../support/env';
import { startTestServer, type TestServer } from '../support/server';
import { validToken } from '../support/tokens';

/**
 * Schemathesis generates requests from /openapi.json (valid and invalid ones) and checks that the API
 * never answers with a server error and that every response matches the documented schema. Bounded:
 * a fixed seed and a few examples per operation keep it to about a minute.
 */
const run = promisify(execFile);

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ rollouts: true });
}, 120_000);

afterAll(() => server.stop());

test('schemathesis finds no server error and no response that breaks the schema', async () => {
  const token = validToken({
    tenantId: uniqueTenant('fuzz'),
    groups: ['release-managers'],
    subject: 'fuzzer',
  });
  const outcome = await run(
    toolPath('st'),
    [
      'run',
      `${server.httpUrl}/openapi.json`,
      '--header',
      `Authorization: Bearer ${token}`,
      '--checks',
      'not_a_server_error,response_schema_conformance,content_type_conformance',
      '--phases',
      'examples,coverage,fuzzing',
      '--max-examples',
      '12',
      '--seed',
      '20261125',
      // One worker: hypothesis' lambda descriptions are not thread-safe (AST recursion counter).
      '--workers',
      '1',
      '--request-timeout',
      '20',
      '--generation-database',
      'none',
      '--no-color',
    ],
    { timeout: 300_000, maxBuffer: 16 * 1024 * 1024 },
  ).then(
    ({ stdout }) => ({ code: 0, stdout }),
    (error: { code: number; stdout: string; stderr: string }) => ({
      code: error.code,
      stdout: `${error.stdout}\n${error.stderr}`,
    }),
  );
  if (outcome.code !== 0) console.error(outcome.stdout);
  expect(outcome.code).toBe(0);
  // Every generated case passed, and there were enough of them that the run tested something.
  const [, generated, passed] = /(\d+) generated, (\d+) passed/.exec(outcome.stdout) ?? [];
  expect(Number(passed)).toBe(Number(generated));
  expect(Number(generated)).toBeGreaterThan(200);
}, 320_000);
