import { existsSync } from 'node:fs';
import { type Browser, chromium, type Page } from 'playwright-core';

/** Debian's chromium, installed by scripts/setup.sh: Playwright's own browser download is not reachable. */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/**
 * Flags for a closed network: without them Chromium keeps trying its update, sync and QUIC endpoints.
 * The empty profile is Playwright's own: `launch` makes a fresh --user-data-dir for each browser and
 * removes it on close (it refuses one passed in the arguments).
 */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH))
    throw new Error(
      `no ${CHROMIUM_PATH}: run scripts/setup.sh as root (it installs Debian's chromium with apt-get)`,
    );
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
}

/** What the page reported running or failing: a test that injects markup asserts this stays empty. */
export interface PageWatch {
  readonly dialogs: string[];
  readonly errors: string[];
  readonly cspViolations: string[];
}

export function watchPage(page: Page): PageWatch {
  const watch: PageWatch = { dialogs: [], errors: [], cspViolations: [] };
  page.on('dialog', (dialog) => {
    watch.dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  page.on('pageerror', (error) => watch.errors.push(error.message));
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) watch.cspViolations.push(message.text());
  });
  return watch;
}

/** Signs in on the console's sign-in form with a pasted token, as a person would. */
export async function signInWithToken(page: Page, consoleUrl: string, token: string): Promise<void> {
  await page.goto(consoleUrl);
  await page.getByLabel('Bearer token').fill(token);
  await page.getByRole('button', { name: 'Sign in with token' }).click();
  await page.getByRole('heading', { level: 1, name: 'Rollouts' }).waitFor();
}
