import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { LOCAL_ISSUER } from '../../common/constants';
import { repoRoot } from '../../common/repoRoot';
import { buildConsole } from '../../scripts/build-console';
import { stackClients, uniqueTenant } from '../support/env';
import { type FleetMember, startTenantFleet } from '../support/fleet';
import { allAtOnce } from '../support/plans';
import { callApi } from '../support/restApi';
import { startTestServer, type TestServer } from '../support/server';
import { validToken } from '../support/tokens';
import { launchBrowser, signInWithToken, watchPage } from './support/browser';
import { checkAccessibility, focusOutline, tabTo } from './support/accessibility';

/**
 * The web console as a person uses it: Debian's chromium against the real config service with rollout
 * routes, an in-process worker and SDK instances on the local stack. Nobody starts anything from the
 * page: a release manager starts a gated rollout through the API, others watch and steer it in the page.
 */
const KEY = 'tenant_config_console';
const INSTANCES = 3;
/** With CONSOLE_SCREENSHOTS=1 (`npm run screenshots`), the pages are saved where the docs show them. */
const SCREENSHOTS = process.env.CONSOLE_SCREENSHOTS === '1';

jest.setTimeout(180_000);

let server: TestServer;
let chromium: Browser;
let tenant: string;
let service: string;
let consoleUrl: string;
const clients = stackClients();
const instances: FleetMember[] = [];
const contexts: BrowserContext[] = [];

const releaseManager = (subject: string) =>
  validToken({ tenantId: tenant, groups: ['release-managers'], subject });
const operator = () => validToken({ tenantId: tenant, groups: ['operators'], subject: 'olivia' });

beforeAll(async () => {
  await buildConsole();
  server = await startTestServer({
    rollouts: true,
    env: {
      CONSOLE_COGNITO_DOMAIN: `http://127.0.0.1:${process.env.ISSUER_PORT}`,
      CONSOLE_CLIENT_ID: LOCAL_ISSUER.clientId,
    },
  });
  consoleUrl = `${server.httpUrl}/console/`;
  tenant = uniqueTenant('console');
  service = `console-${randomUUID().slice(0, 6)}`;
  instances.push(
    ...(await startTenantFleet({
      server,
      clients,
      tenantId: tenant,
      service,
      keys: [KEY],
      count: INSTANCES,
    })),
  );
  chromium = await launchBrowser();
}, 180_000);

afterAll(async () => {
  await Promise.all(contexts.map((context) => context.close()));
  await chromium?.close();
  await Promise.all(instances.map((instance) => instance.client.stop()));
  await server?.stop();
});

async function newPage(): Promise<Page> {
  const context = await chromium.newContext({ viewport: { width: 1200, height: 900 } });
  contexts.push(context);
  return context.newPage();
}

async function screenshot(page: Page, name: string): Promise<void> {
  if (!SCREENSHOTS) return;
  const dir = path.join(repoRoot(), 'docs', 'images');
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: path.join(dir, `console-${name}.png`), fullPage: true });
}

/** Rollouts a test started: ended after it, pass or fail, so the next one may start one of the same key. */
const running: string[] = [];
afterEach(async () => {
  if (expect.getState().currentTestName?.startsWith('a release manager')) return;
  await Promise.all(running.splice(0).map(finish));
});

/** A gated rollout started through the API by `starter`, as cfgctl would; the page never starts one. */
async function startGatedRollout(starter: string, value: string): Promise<string> {
  const started = await callApi(server.httpUrl, 'POST', '/v1/rollouts', releaseManager(starter), {
    key: KEY,
    value,
    targetServices: [service],
    // A canary instance, then the rest once another release manager approves.
    plan: allAtOnce({ strategy: { kind: 'explicit', waves: [1, '100%'] }, approval: 'after-first-wave' }),
  });
  expect(started.status).toBe(202);
  const rolloutId = started.body.rolloutId as string;
  running.push(rolloutId);
  return rolloutId;
}

const rolloutUrl = (rolloutId: string) => `${consoleUrl}#/rollouts/${encodeURIComponent(rolloutId)}`;
const stateOnPage = (page: Page) => page.locator('#rollout .summary .state');

describe('a release manager', () => {
  let rolloutId: string;

  beforeAll(async () => {
    rolloutId = await startGatedRollout('alice', '{"v":2}');
  });
  // The three tests follow one rollout; it is ended after the last of them.
  afterAll(() => Promise.all(running.splice(0).map(finish)));

  test('signs in through the hosted UI with PKCE, watches the first wave fill, and is refused approving her own rollout', async () => {
    const page = await newPage();
    await page.goto(consoleUrl);
    await page.getByRole('button', { name: 'Sign in with your organisation' }).click();
    // The local issuer's stand-in for Cognito's hosted UI: choose who to be.
    await page.getByLabel('Username').fill('alice');
    await page.getByLabel('Tenant').fill(tenant);
    await page.getByLabel('release-managers').check();
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Rollouts' }).waitFor();
    expect(new URL(page.url()).search).toBe(''); // the code left the address bar
    expect(await page.locator('#who').textContent()).toContain(`alice · tenant ${tenant} · release manager`);
    const storage = await page.evaluate(() => ({
      session: Object.keys(sessionStorage),
      local: Object.keys(localStorage),
      cookies: document.cookie,
    }));
    expect(storage).toEqual({ session: ['cfg-console.token'], local: [], cookies: '' });

    await page.locator(`tr[data-rollout-id="${rolloutId}"] a`).click();
    await page
      .locator('#rollout .summary .state[data-state="AWAITING_APPROVAL"]')
      .waitFor({ timeout: 60_000 });
    await page.locator('[data-wave="0"][data-wave-state="awaiting-approval"]').waitFor();
    expect(await page.locator('#wave-0-progress').getAttribute('value')).toBe('1');

    await page.getByLabel('Reason (kept in the audit)').fill('I wrote it, so it is fine');
    await page.locator('button[data-action="approve"]').click();
    await page.locator('#alerts', { hasText: 'four-eyes rule' }).waitFor();
    expect(await page.locator('#alerts').textContent()).toMatch(
      /approve refused: .*four-eyes rule: alice started this rollout/,
    );
    expect(await stateOnPage(page).textContent()).toBe('AWAITING_APPROVAL');
  });

  test('signs in with a token, approves with the keyboard alone, and watches the rollout succeed on every instance', async () => {
    const page = await newPage();
    const watch = watchPage(page);
    await signInWithToken(page, consoleUrl, releaseManager('bob'));
    await screenshot(page, 'list');
    await page.goto(rolloutUrl(rolloutId));
    await page.locator('#rollout [data-wave="0"][data-wave-state="awaiting-approval"]').waitFor();
    expect(await stateOnPage(page).textContent()).toBe('AWAITING_APPROVAL');
    await expect(page.locator('#live').textContent()).resolves.toContain('Wave 1 of 2: 1 of 1 updated');
    await screenshot(page, 'rollout');

    expect(await checkAccessibility(page)).toEqual({ unlabelled: [], lowContrast: [] });

    await tabTo(page, '#action-reason');
    expect(await focusOutline(page)).toMatch(/^solid [1-9]/);
    await page.keyboard.type('canary looks healthy');
    await tabTo(page, 'button[data-action="approve"]');
    expect(await focusOutline(page)).toMatch(/^solid [1-9]/);
    await page.keyboard.press('Enter');

    // The approve answer shows the rollout moving on; only the event stream can bring SUCCEEDED.
    await page.locator('#rollout .summary .state[data-state="SUCCEEDED"]').waitFor({ timeout: 60_000 });
    expect(await page.locator('[data-testid="instances"]').textContent()).toBe(
      `${INSTANCES} of ${INSTANCES} updated, 0 failed`,
    );
    expect(await page.locator('#wave-1-progress').getAttribute('value')).toBe(String(INSTANCES - 1));
    expect(await page.locator('#live').textContent()).toContain(
      `${INSTANCES} of ${INSTANCES} instances updated`,
    );
    expect(await page.locator('.audit').textContent()).toContain('bob — approve: canary looks healthy');
    expect(watch.errors).toEqual([]);
  });

  test("reads the key's history with a diff between two versions", async () => {
    const page = await newPage();
    await signInWithToken(page, consoleUrl, releaseManager('bob'));
    await page.locator('.skip').focus();
    await page.keyboard.press('Enter');
    expect(await page.evaluate(() => [document.activeElement?.id, location.hash])).toEqual(['main', '']);
    await page.getByRole('link', { name: 'Key history' }).click();
    await page.getByRole('textbox', { name: 'Key' }).fill(KEY);
    await page.keyboard.press('Enter');
    await page.locator('#diff figcaption').waitFor();
    expect(await page.locator('#diff figcaption').textContent()).toMatch(
      /^v\d+ → v\d+: 2 line\(s\) changed$/,
    );
    expect(await page.locator('#diff del').allTextContents()).toEqual(['-   "v": 1\n']);
    expect(await page.locator('#diff ins').allTextContents()).toEqual(['+   "v": 2\n']);
    await screenshot(page, 'history');
  });
});

describe('an operator', () => {
  test('finds no action buttons, and a POST forced from the page gets 403 with the reason', async () => {
    const rolloutId = await startGatedRollout('alice', '{"v":3}');
    const page = await newPage();
    await signInWithToken(page, consoleUrl, operator());
    expect(await page.locator('#who').textContent()).toContain('operator');
    await page.goto(rolloutUrl(rolloutId));
    await page
      .locator('#rollout .summary .state[data-state="AWAITING_APPROVAL"]')
      .waitFor({ timeout: 60_000 });
    expect(await page.locator('button[data-action]').count()).toBe(0);
    expect(await page.getByRole('heading', { name: 'Steer this rollout' }).count()).toBe(0);

    // What a curious operator could type into the devtools: the same call with the page's own token.
    const forced = await page.evaluate(async (id) => {
      const token = sessionStorage.getItem('cfg-console.token') ?? '';
      const response = await fetch(`/v1/rollouts/${encodeURIComponent(id)}/approve`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ reason: 'let me' }),
      });
      return { status: response.status, problem: (await response.json()) as { detail: string } };
    }, rolloutId);
    expect(forced.status).toBe(403);
    expect(forced.problem.detail).toMatch(/release-managers/);
  });
});

describe('another tenant', () => {
  test("a tenant B release manager sees none of tenant A's rollouts, and A's rollout URL shows not found", async () => {
    const rolloutId = await startGatedRollout('alice', '{"v":4}');
    const page = await newPage();
    await signInWithToken(
      page,
      consoleUrl,
      validToken({ tenantId: uniqueTenant('other'), groups: ['release-managers'], subject: 'mallory' }),
    );
    await page.locator('#rollout-results :is(table, p:not(.loading))').waitFor();
    expect(await page.locator('#rollout-results').textContent()).toBe('No rollouts.');
    await page.goto(rolloutUrl(rolloutId));
    await page.getByRole('heading', { level: 1, name: 'Rollout not found' }).waitFor();
    expect(await page.locator('button[data-action]').count()).toBe(0);
  });
});

describe('values that carry markup', () => {
  const markup = '<img src=x onerror="alert(document.domain)"><script>alert(1)</script>';

  test('a reason, a config value and a schema description are shown as text and nothing runs', async () => {
    const rolloutId = await startGatedRollout('alice', JSON.stringify({ note: markup }));
    const schema = await callApi(server.httpUrl, 'PUT', `/v1/schemas/${KEY}`, releaseManager('alice'), {
      schema: { type: 'object', description: markup },
      expectedVersion: 0,
    });
    expect(schema.status).toBeLessThan(300);
    const page = await newPage();
    const watch = watchPage(page);
    await signInWithToken(page, consoleUrl, releaseManager('bob'));
    await page.goto(rolloutUrl(rolloutId));
    await page
      .locator('#rollout .summary .state[data-state="AWAITING_APPROVAL"]')
      .waitFor({ timeout: 60_000 });
    await page.getByLabel('Reason (kept in the audit)').fill(markup);
    await page.locator('button[data-action="abort"]').click();
    await page.locator('.audit li', { hasText: 'abort' }).waitFor();
    expect(await page.locator('.audit').textContent()).toContain(`bob — abort: ${markup}`);
    await waitUntilOver(rolloutId);

    await page.goto(`${consoleUrl}#/history/${KEY}`);
    await page.locator('#history table').waitFor();
    expect(await page.locator('#history table').textContent()).toContain(JSON.stringify({ note: markup }));

    await page.goto(`${consoleUrl}#/schemas`);
    await page.locator('#schemas dl').waitFor();
    expect(await page.locator('#schemas').textContent()).toContain(JSON.stringify(markup));

    await sleep(500); // an onerror handler would have fired by now
    expect(await page.locator('main img, main script').count()).toBe(0);
    expect(watch.dialogs).toEqual([]);
    expect(watch.errors).toEqual([]);
  });
});

describe('the session', () => {
  test('an expired token sends the page back to sign-in, and sign out clears the token', async () => {
    const page = await newPage();
    const shortLived = validToken({
      tenantId: tenant,
      groups: ['operators'],
      subject: 'olivia',
      ttlSeconds: 3,
    });
    await signInWithToken(page, consoleUrl, shortLived);
    await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor({ timeout: 10_000 });
    expect(await page.locator('#sign-in-problem').textContent()).toMatch(/expired/);
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);

    await signInWithToken(page, consoleUrl, operator());
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    await page.goto(`${consoleUrl}#/rollouts`);
    await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
  });
});

/** Aborts a rollout unless it is over, then waits until it is: the next test may start one of the same key. */
async function finish(rolloutId: string): Promise<void> {
  await callApi(server.httpUrl, 'POST', `/v1/rollouts/${rolloutId}/abort`, releaseManager('bob'), {
    reason: 'test over',
  });
  await waitUntilOver(rolloutId);
}

async function waitUntilOver(rolloutId: string): Promise<void> {
  for (let i = 0; i < 300; i += 1) {
    const { body } = await callApi(server.httpUrl, 'GET', `/v1/rollouts/${rolloutId}`, operator());
    if (['SUCCEEDED', 'ROLLED_BACK', 'FAILED'].includes(body.state as string)) return;
    await sleep(200);
  }
  throw new Error(`rollout ${rolloutId} never ended`);
}
