import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import express from 'express';
import { buildConsole } from '../../scripts/build-console';
import { createLogger } from '../../common/logger';
import { consoleRoutes } from '../../server/http/consoleRoutes';
import { problemErrorHandler } from '../../server/http/problem';
import { startTestServer, type TestServer } from '../support/server';

/** What the config service sends with the console: its files, its settings, and the headers that guard it. */
let server: TestServer;

beforeAll(async () => {
  await buildConsole();
  server = await startTestServer({
    env: { CONSOLE_COGNITO_DOMAIN: 'https://auth.example.com/', CONSOLE_CLIENT_ID: 'console-client' },
  });
});

afterAll(() => server.stop());

test.each(['/console/', '/console/console.js', '/console/console.css', '/console/config.json'])(
  '%s carries a strict content security policy and the hardening headers',
  async (file) => {
    const response = await fetch(`${server.httpUrl}${file}`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-security-policy')).toBe(
      "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; " +
        "connect-src 'self' https://auth.example.com; object-src 'none'; base-uri 'none'; " +
        "form-action 'self'; frame-ancestors 'none'",
    );
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('x-frame-options')).toBe('DENY');
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
  },
);

test('the page has no inline script or style: everything it runs comes from its own files', async () => {
  const page = await (await fetch(`${server.httpUrl}/console/`)).text();
  expect(page).toContain('<script src="/console/console.js" defer></script>');
  expect(page).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
  expect(page).not.toMatch(/<style|\sstyle=|\son[a-z]+=/i);
});

test('config.json tells the page where the hosted UI is, and nothing secret', async () => {
  const response = await fetch(`${server.httpUrl}/console/config.json`);
  expect(response.headers.get('cache-control')).toBe('no-store');
  expect(await response.json()).toEqual({
    hostedUi: { domain: 'https://auth.example.com', clientId: 'console-client' },
  });
});

test('a server whose console was never built says how to build it', async () => {
  const app = express();
  app.use(
    '/console',
    consoleRoutes({ settings: {}, buildDir: mkdtempSync(path.join(tmpdir(), 'no-console-')) }),
  );
  app.use(problemErrorHandler(createLogger({ component: 'test' }, 'error')));
  const listening = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => listening.once('listening', resolve));
  try {
    const { port } = listening.address() as { port: number };
    const response = await fetch(`http://127.0.0.1:${port}/console/`);
    expect(response.status).toBe(503);
    expect(((await response.json()) as { detail: string }).detail).toMatch(/npm run build:console/);
    const config = await fetch(`http://127.0.0.1:${port}/console/config.json`);
    expect(await config.json()).toEqual({ hostedUi: null });
  } finally {
    listening.close();
  }
});
