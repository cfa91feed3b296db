import { whenSignedOut } from './api';
import { el, replaceChildren } from './dom';
import { completeSignIn, type HostedUi } from './hostedUi';
import { clearSession, currentSession, type Session, storeSession } from './session';
import { showHistory } from './views/history';
import { showRollout } from './views/rollout';
import { showRollouts } from './views/rollouts';
import { showSchemas } from './views/schemas';
import type { Leave, ViewContext } from './views/shared';
import { showSignIn } from './views/signIn';

/** The page's shell: the header with who is signed in, the navigation, and the hash routes. */
const main = document.getElementById('main') as HTMLElement;
const account = document.getElementById('account') as HTMLElement;
const nav = document.getElementById('nav') as HTMLElement;
const live = document.getElementById('live') as HTMLElement;
const alerts = document.getElementById('alerts') as HTMLElement;

let hostedUi: HostedUi | undefined;
let leave: Leave = () => undefined;
let expiry: ReturnType<typeof setTimeout> | undefined;

function signOut(message?: string): void {
  clearSession();
  leave();
  leave = () => undefined;
  clearTimeout(expiry);
  replaceChildren(account);
  nav.hidden = true;
  showSignIn(main, { hostedUi, message, signedIn: () => void route() });
  focusHeading();
}

function showAccount(session: Session): void {
  const button = el('button', { type: 'button', id: 'sign-out' }, 'Sign out');
  button.addEventListener('click', () => signOut('You signed out.'));
  replaceChildren(
    account,
    el(
      'span',
      { id: 'who' },
      `${session.subject} · tenant ${session.tenantId} · ${session.canAct ? 'release manager' : 'operator'}`,
    ),
    button,
  );
  nav.hidden = false;
  clearTimeout(expiry);
  // An expired token would only fail the next call: go back to sign-in when it expires instead.
  expiry = setTimeout(
    () => signOut('Your session expired: sign in again.'),
    Math.min(session.expiresAt - Date.now(), 2 ** 31 - 1),
  );
}

function focusHeading(): void {
  main.querySelector<HTMLElement>('h1')?.focus();
}

async function route(): Promise<void> {
  leave();
  leave = () => undefined;
  replaceChildren(alerts);
  const session = currentSession();
  if (!session) return signOut();
  showAccount(session);
  const context: ViewContext = {
    main,
    canAct: session.canAct,
    announce: (message) => replaceChildren(live, message),
    alert: (message) => replaceChildren(alerts, el('p', {}, message)),
  };
  const [, page = 'rollouts', rest] = /^#\/([^/?]*)\/?([^?]*)/.exec(location.hash) ?? [];
  const query = new URLSearchParams(location.hash.split('?')[1] ?? '');
  const argument = rest ? decodeURIComponent(rest) : undefined;
  if (page === 'rollouts' && argument) {
    const stop = await showRollout(context, argument);
    leave = stop;
  } else if (page === 'history') await showHistory(context, argument);
  else if (page === 'schemas') await showSchemas(context);
  else await showRollouts(context, query.get('state') ?? undefined);
  focusHeading();
}

async function start(): Promise<void> {
  whenSignedOut((reason) => signOut(reason));
  // The routes live in the hash: the skip link moves the focus instead of navigating to "#main".
  document.querySelector('.skip')?.addEventListener('click', (event) => {
    event.preventDefault();
    main.focus();
  });
  const config = (await (await fetch('/console/config.json')).json()) as { hostedUi: HostedUi | null };
  hostedUi = config.hostedUi ?? undefined;
  if (hostedUi) {
    try {
      const token = await completeSignIn(hostedUi);
      if (token) storeSession(token);
    } catch (error) {
      return signOut((error as Error).message);
    }
  }
  window.addEventListener('hashchange', () => void route());
  await route();
}

void start();
