/**
 * Sign-in through the Cognito hosted UI: authorization code with PKCE (S256), a public client without a
 * secret. The verifier and state wait in sessionStorage across the redirect and are removed once used.
 */
export interface HostedUi {
  readonly domain: string;
  readonly clientId: string;
  readonly redirectUri?: string;
}

const PENDING_KEY = 'cfg-console.pkce';

interface Pending {
  readonly verifier: string;
  readonly state: string;
}

function randomString(bytes: number): string {
  return base64Url(crypto.getRandomValues(new Uint8Array(bytes)));
}

function base64Url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
}

export function redirectUriOf(hostedUi: HostedUi): string {
  return hostedUi.redirectUri ?? `${location.origin}/console/`;
}

/** Sends the browser to the hosted UI; it comes back to the redirect URI with `code` and `state`. */
export async function beginSignIn(hostedUi: HostedUi): Promise<void> {
  const pending: Pending = { verifier: randomString(32), state: randomString(16) };
  sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending));
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(pending.verifier));
  const url = new URL(`${hostedUi.domain}/oauth2/authorize`);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: hostedUi.clientId,
    redirect_uri: redirectUriOf(hostedUi),
    scope: 'openid',
    state: pending.state,
    code_challenge_method: 'S256',
    code_challenge: base64Url(new Uint8Array(digest)),
  }).toString();
  location.assign(url.toString());
}

/**
 * Finishes a sign-in the hosted UI sent back: checks the state against the one this tab sent (a code
 * injected by another site is refused), trades the code and verifier for tokens, and takes the code out
 * of the address bar. Undefined when the URL carries no answer.
 */
export async function completeSignIn(hostedUi: HostedUi): Promise<string | undefined> {
  const query = new URLSearchParams(location.search);
  const code = query.get('code');
  const error = query.get('error');
  if (!code && !error) return undefined;
  history.replaceState(null, '', location.pathname + location.hash);
  const stored = sessionStorage.getItem(PENDING_KEY);
  sessionStorage.removeItem(PENDING_KEY);
  if (error) throw new Error(`the sign-in was refused: ${error}`);
  const pending = stored ? (JSON.parse(stored) as Pending) : undefined;
  if (!pending || query.get('state') !== pending.state)
    throw new Error('the sign-in answer does not match a sign-in started here: sign in again');
  const response = await fetch(`${hostedUi.domain}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      client_id: hostedUi.clientId,
      code: code ?? '',
      redirect_uri: redirectUriOf(hostedUi),
      code_verifier: pending.verifier,
    }),
  });
  const body = (await response.json().catch(() => ({}))) as { access_token?: string; error?: string };
  if (!response.ok || !body.access_token)
    throw new Error(`the token exchange failed: ${body.error ?? `HTTP ${response.status}`}`);
  return body.access_token;
}
