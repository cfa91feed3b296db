import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LOCAL_ISSUER } from '../../common/constants';
import { hostedUiStandIn } from '../../scripts/stack/hostedUiStandIn';
import { ensureIssuerKeys } from '../../scripts/stack/localIssuer';

/**
 * The local issuer's stand-in for Cognito's hosted UI: the checks that make the console's PKCE sign-in
 * mean something (a stolen code alone buys nothing, a code is spent once, the callback is the one asked).
 */
const REDIRECT = 'http://127.0.0.1:9/console/';
let server: Server;
let base: string;
let clock = Date.now();

beforeAll(async () => {
  const handle = hostedUiStandIn(ensureIssuerKeys(), () => clock);
  server = createServer((request, response) => {
    void handle(request, response).then((handled) => handled || response.writeHead(404).end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

function pkce() {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

const authorizeFields = (challenge: string, redirectUri = REDIRECT) => ({
  response_type: 'code',
  client_id: LOCAL_ISSUER.clientId,
  redirect_uri: redirectUri,
  state: 'state-123',
  code_challenge: challenge,
  code_challenge_method: 'S256',
});

/** Submits the stand-in's form as the person would; answers the redirect's code. */
async function authorize(challenge: string): Promise<string> {
  const response = await fetch(`${base}/oauth2/authorize`, {
    method: 'POST',
    body: new URLSearchParams({
      ...authorizeFields(challenge),
      username: 'alice',
      tenant: 'acme',
      group: 'release-managers',
    }),
    redirect: 'manual',
  });
  expect(response.status).toBe(302);
  const location = new URL(response.headers.get('location') ?? '');
  expect(`${location.origin}${location.pathname}`).toBe(REDIRECT);
  expect(location.searchParams.get('state')).toBe('state-123');
  return location.searchParams.get('code') ?? '';
}

async function redeem(fields: Record<string, string>) {
  const response = await fetch(`${base}/oauth2/token`, {
    method: 'POST',
    headers: { origin: 'http://127.0.0.1:9' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      client_id: LOCAL_ISSUER.clientId,
      redirect_uri: REDIRECT,
      ...fields,
    }),
  });
  return {
    status: response.status,
    cors: response.headers.get('access-control-allow-origin'),
    body: (await response.json()) as Record<string, unknown>,
  };
}

const claimsOf = (token: unknown) =>
  JSON.parse(Buffer.from(String(token).split('.')[1] ?? '', 'base64url').toString()) as Record<
    string,
    unknown
  >;

test('the code with its verifier buys an access token for the user, tenant and group chosen on the form', async () => {
  const { verifier, challenge } = pkce();
  const answer = await redeem({ code: await authorize(challenge), code_verifier: verifier });
  expect(answer.status).toBe(200);
  expect(answer.cors).toBe('http://127.0.0.1:9');
  expect(claimsOf(answer.body.access_token)).toMatchObject({
    sub: 'alice',
    token_use: 'access',
    'custom:tenantId': 'acme',
    'cognito:groups': ['release-managers'],
  });
});

test('a code with the wrong verifier is refused, and spent: the right verifier cannot use it after', async () => {
  const { verifier, challenge } = pkce();
  const code = await authorize(challenge);
  const wrong = await redeem({ code, code_verifier: pkce().verifier });
  expect(wrong).toMatchObject({
    status: 400,
    body: { error: 'invalid_grant', error_description: 'code_verifier does not match the code_challenge' },
  });
  const late = await redeem({ code, code_verifier: verifier });
  expect(late).toMatchObject({ status: 400, body: { error_description: 'unknown or already used code' } });
});

test('a code redeems once only', async () => {
  const { verifier, challenge } = pkce();
  const code = await authorize(challenge);
  expect((await redeem({ code, code_verifier: verifier })).status).toBe(200);
  expect(await redeem({ code, code_verifier: verifier })).toMatchObject({
    status: 400,
    body: { error_description: 'unknown or already used code' },
  });
});

test('a code redeemed with another redirect URI than it was issued for is refused', async () => {
  const { verifier, challenge } = pkce();
  const code = await authorize(challenge);
  const answer = await redeem({
    code,
    code_verifier: verifier,
    redirect_uri: 'http://127.0.0.1:9/elsewhere/',
  });
  expect(answer).toMatchObject({
    status: 400,
    body: { error_description: 'redirect_uri does not match the code' },
  });
});

test('a code older than five minutes is refused', async () => {
  const { verifier, challenge } = pkce();
  const code = await authorize(challenge);
  clock += 5 * 60_000 + 1;
  expect(await redeem({ code, code_verifier: verifier })).toMatchObject({
    status: 400,
    body: { error_description: 'the code has expired' },
  });
});

test.each([
  [
    'a redirect URI off loopback',
    { redirect_uri: 'https://attacker.example/console/' },
    /redirect_uri must be a loopback/,
  ],
  ['no PKCE challenge method', { code_challenge_method: 'plain' }, /code_challenge_method must be S256/],
  ['an unknown client', { client_id: 'someone-else' }, /unknown client_id/],
])('the authorize page refuses %s, and redirects nowhere', async (_name, override, message) => {
  const query = new URLSearchParams({ ...authorizeFields(pkce().challenge), ...override });
  const response = await fetch(`${base}/oauth2/authorize?${query.toString()}`, { redirect: 'manual' });
  expect(response.status).toBe(400);
  expect(response.headers.get('location')).toBeNull();
  expect(await response.text()).toMatch(message);
});

test('the authorize page shows the request back escaped: markup in the state is text', async () => {
  const query = new URLSearchParams({
    ...authorizeFields(pkce().challenge),
    state: '"><script>alert(1)</script>',
  });
  const response = await fetch(`${base}/oauth2/authorize?${query.toString()}`);
  expect(response.status).toBe(200);
  const page = await response.text();
  expect(page).not.toContain('<script>');
  expect(page).toContain('value="&#34;&#62;&#60;script&#62;alert(1)&#60;/script&#62;"');
  expect(response.headers.get('content-security-policy')).toBe(
    "default-src 'none'; form-action 'self' http://127.0.0.1:9; frame-ancestors 'none'",
  );
});
