import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Group, LOCAL_ISSUER } from '../../common/constants';
import { devTokenClaims, type IssuerKeys, signJwt } from './localIssuer';

/**
 * The local stand-in for Cognito's hosted UI, so the console's authorization-code-with-PKCE sign-in runs
 * for real on the stack and in the browser tests: /oauth2/authorize shows a form choosing the user,
 * tenant and group (no password: whoever reaches loopback may mint dev tokens anyway, as `cfgctl
 * dev-token` does), /oauth2/token checks the code's client, redirect URI and PKCE verifier once. Unlike
 * Cognito, it has no list of registered callback URLs: it accepts any loopback one. Development only.
 */
const CODE_TTL_MS = 5 * 60_000;
/** Codes not yet redeemed are held in memory: bounded, the oldest dropped first. */
const MAX_PENDING_CODES = 1000;
const MAX_BODY_BYTES = 16 * 1024;
const TOKEN_TTL_SECONDS = 3600;
/** The people the console is for: a tenant's release managers and operators. */
const GROUPS = ['release-managers', 'operators'] as const satisfies readonly Group[];

interface PendingCode {
  readonly clientId: string;
  readonly redirectUri: string;
  readonly challenge: string;
  readonly tenantId: string;
  readonly group: (typeof GROUPS)[number];
  readonly subject: string;
  readonly expiresAt: number;
}

class AuthorizeError extends Error {}

export function hostedUiStandIn(keys: IssuerKeys, now: () => number = Date.now) {
  const codes = new Map<string, PendingCode>();

  /** Answers the /oauth2/* requests; false for any other path. */
  return async function handle(request: IncomingMessage, response: ServerResponse): Promise<boolean> {
    const url = new URL(request.url ?? '/', 'http://localhost');
    try {
      if (url.pathname === '/oauth2/authorize' && request.method === 'GET') {
        const params = authorizeParams(url.searchParams);
        html(response, 200, chooseUserPage(params), new URL(params.redirect_uri).origin);
      } else if (url.pathname === '/oauth2/authorize' && request.method === 'POST') {
        const form = new URLSearchParams(await readBody(request));
        const params = authorizeParams(form);
        const pending = pendingCode(params, form, now());
        const code = randomBytes(32).toString('base64url');
        codes.set(code, pending);
        if (codes.size > MAX_PENDING_CODES) codes.delete(codes.keys().next().value as string);
        const back = new URL(params.redirect_uri);
        back.searchParams.set('code', code);
        back.searchParams.set('state', params.state);
        response.writeHead(302, { location: back.toString(), 'cache-control': 'no-store' }).end();
      } else if (url.pathname === '/oauth2/token' && request.method === 'POST') {
        const form = new URLSearchParams(await readBody(request));
        const code = form.get('code') ?? '';
        const pending = codes.get(code);
        // Single use: a code is spent by its first redemption, successful or not.
        codes.delete(code);
        const refusal = tokenRefusal(pending, form, now());
        if (refusal || !pending)
          return tokenAnswer(request, response, 400, { error: 'invalid_grant', error_description: refusal });
        const claims = {
          tenantId: pending.tenantId,
          groups: [pending.group],
          subject: pending.subject,
          ttlSeconds: TOKEN_TTL_SECONDS,
        };
        tokenAnswer(request, response, 200, {
          access_token: signJwt(devTokenClaims({ ...claims, tokenUse: 'access' }), keys),
          id_token: signJwt(devTokenClaims({ ...claims, tokenUse: 'id' }), keys),
          token_type: 'Bearer',
          expires_in: TOKEN_TTL_SECONDS,
        });
      } else {
        return false;
      }
    } catch (error) {
      if (!(error instanceof AuthorizeError)) throw error;
      html(response, 400, page('Sign-in refused', `<p>${escapeHtml(error.message)}</p>`));
    }
    return true;
  };
}

type AuthorizeParams = Record<'client_id' | 'redirect_uri' | 'state' | 'code_challenge', string>;

/** What an authorize request must carry; refused here, never sent on to an unchecked redirect URI. */
function authorizeParams(query: URLSearchParams): AuthorizeParams {
  const get = (name: string) => {
    const value = query.get(name);
    if (!value) throw new AuthorizeError(`${name} is required`);
    return value;
  };
  if (get('response_type') !== 'code') throw new AuthorizeError('response_type must be code');
  if (get('client_id') !== LOCAL_ISSUER.clientId) throw new AuthorizeError('unknown client_id');
  if (get('code_challenge_method') !== 'S256') throw new AuthorizeError('code_challenge_method must be S256');
  const challenge = get('code_challenge');
  if (!/^[A-Za-z0-9_-]{43}$/.test(challenge))
    throw new AuthorizeError('code_challenge must be a base64url SHA-256');
  const redirectUri = get('redirect_uri');
  if (!isLoopbackUrl(redirectUri)) throw new AuthorizeError('redirect_uri must be a loopback http(s) URL');
  return {
    client_id: LOCAL_ISSUER.clientId,
    redirect_uri: redirectUri,
    state: get('state'),
    code_challenge: challenge,
  };
}

function pendingCode(params: AuthorizeParams, form: URLSearchParams, at: number): PendingCode {
  const group = form.get('group');
  const tenantId = form.get('tenant') ?? '';
  const subject = form.get('username') ?? '';
  if (!GROUPS.includes(group as (typeof GROUPS)[number])) throw new AuthorizeError('choose a group');
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(tenantId))
    throw new AuthorizeError('tenant: lowercase letters, digits and dashes');
  if (!/^[A-Za-z0-9._@-]{1,64}$/.test(subject))
    throw new AuthorizeError('username: letters, digits and . _ @ -');
  return {
    clientId: params.client_id,
    redirectUri: params.redirect_uri,
    challenge: params.code_challenge,
    tenantId,
    group: group as (typeof GROUPS)[number],
    subject,
    expiresAt: at + CODE_TTL_MS,
  };
}

function tokenRefusal(
  pending: PendingCode | undefined,
  form: URLSearchParams,
  at: number,
): string | undefined {
  if (form.get('grant_type') !== 'authorization_code') return 'grant_type must be authorization_code';
  if (!pending) return 'unknown or already used code';
  if (pending.expiresAt <= at) return 'the code has expired';
  if (form.get('client_id') !== pending.clientId) return 'client_id does not match the code';
  if (form.get('redirect_uri') !== pending.redirectUri) return 'redirect_uri does not match the code';
  const verifier = form.get('code_verifier') ?? '';
  if (!/^[A-Za-z0-9._~-]{43,128}$/.test(verifier)) return 'code_verifier is malformed';
  const computed = Buffer.from(createHash('sha256').update(verifier).digest('base64url'));
  const expected = Buffer.from(pending.challenge);
  if (computed.length !== expected.length || !timingSafeEqual(computed, expected))
    return 'code_verifier does not match the code_challenge';
  return undefined;
}

function isLoopbackUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (
      (url.protocol === 'http:' || url.protocol === 'https:') &&
      (url.hostname === 'localhost' || url.hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(url.hostname))
    );
  } catch {
    return false;
  }
}

/** Cognito's token endpoint answers browsers cross-origin; so does this one (loopback origins only). */
function tokenAnswer(request: IncomingMessage, response: ServerResponse, status: number, body: object): true {
  const origin = request.headers.origin;
  response
    .writeHead(status, {
      'content-type': 'application/json',
      'cache-control': 'no-store',
      ...(origin && isLoopbackUrl(origin) ? { 'access-control-allow-origin': origin, vary: 'Origin' } : {}),
    })
    .end(JSON.stringify(body));
  return true;
}

async function readBody(request: IncomingMessage): Promise<string> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new AuthorizeError('request body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function html(response: ServerResponse, status: number, body: string, formTarget?: string): void {
  response
    .writeHead(status, {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      // The form's POST redirects to the console: form-action must allow that origin too.
      'content-security-policy': `default-src 'none'; form-action 'self'${formTarget ? ` ${formTarget}` : ''}; frame-ancestors 'none'`,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
    })
    .end(body);
}

function chooseUserPage(params: AuthorizeParams): string {
  const hidden = Object.entries({ ...params, response_type: 'code', code_challenge_method: 'S256' })
    .map(([name, value]) => `<input type="hidden" name="${name}" value="${escapeHtml(value)}">`)
    .join('');
  const groups = GROUPS.map(
    (group, i) =>
      `<p><input type="radio" id="group-${group}" name="group" value="${group}"${i === 0 ? ' checked' : ''}>` +
      ` <label for="group-${group}">${group}</label></p>`,
  ).join('');
  return page(
    'Local sign-in',
    `<p>The local stack's stand-in for the Cognito hosted UI: choose who to be.</p>
<form method="post" action="/oauth2/authorize">${hidden}
<p><label for="username">Username</label> <input id="username" name="username" required value="dev-user"></p>
<p><label for="tenant">Tenant</label> <input id="tenant" name="tenant" required value="acme"></p>
<fieldset><legend>Group</legend>${groups}</fieldset>
<p><button type="submit">Sign in</button></p>
</form>`,
  );
}

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head><body><main><h1>${title}</h1>${body}</main></body></html>`;
}

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
