import { UnauthenticatedError } from '../../common/errors';
import type { Identity } from '../../server/auth/identity';
import type { TokenVerifier } from '../../server/auth/tokenVerifier';
import { withVerifiedTokenCache } from '../../server/auth/verifiedTokenCache';

/**
 * The cache's rules with a clock the test moves and a verifier that counts its calls; the same rules
 * against aws-jwt-verify and the local issuer's real tokens are in test/security/tokenCache.test.ts.
 */
const T0 = 1_800_000_000_000;

function countingVerifier(expiresAt: (token: string) => number) {
  const calls: string[] = [];
  const verifier: TokenVerifier = {
    hydrate: () => Promise.resolve(),
    verify(token) {
      calls.push(token);
      if (token.startsWith('bad')) return Promise.reject(new UnauthenticatedError('invalid token'));
      const identity: Identity = {
        tenantId: token.split('.')[0]!,
        subject: token,
        roles: ['service'],
        expiresAt: expiresAt(token),
      };
      return Promise.resolve(identity);
    },
  };
  return { verifier, calls };
}

function setup(expiresIn = 3_600_000, options = { maxEntries: 10, maxAgeMs: 60_000 }) {
  let now = T0;
  const { verifier, calls } = countingVerifier(() => T0 + expiresIn);
  const cached = withVerifiedTokenCache(verifier, options, () => now);
  return { cached, calls, advance: (ms: number) => (now += ms) };
}

test('a token verified once is answered from memory with the same identity', async () => {
  const { cached, calls } = setup();
  const first = await cached.verify('acme.token');
  expect(await cached.verify('acme.token')).toBe(first);
  expect(calls).toEqual(['acme.token']);
});

test('a different token never shares an entry, even one differing in a single character', async () => {
  const { cached, calls } = setup();
  const acme = await cached.verify('acme.token');
  const other = await cached.verify('acmf.token');
  expect(other.tenantId).toBe('acmf');
  expect(acme.tenantId).toBe('acme');
  expect(calls).toEqual(['acme.token', 'acmf.token']);
});

test('a cached token past its expiry goes back to the verifier, which refuses it', async () => {
  let now = T0;
  const { verifier, calls } = countingVerifier(() => T0 + 1000);
  const refusingWhenExpired: TokenVerifier = {
    hydrate: () => verifier.hydrate(),
    verify: (token) =>
      now >= T0 + 1000 ? Promise.reject(new UnauthenticatedError('token expired')) : verifier.verify(token),
  };
  const cached = withVerifiedTokenCache(refusingWhenExpired, { maxEntries: 10, maxAgeMs: 60_000 }, () => now);
  await cached.verify('acme.token');
  now = T0 + 999;
  await cached.verify('acme.token');
  expect(calls).toHaveLength(1);
  now = T0 + 1000;
  await expect(cached.verify('acme.token')).rejects.toThrow('token expired');
  expect(cached.cachedTokens).toBe(0);
});

test('an entry is trusted for at most maxAgeMs, then verified afresh', async () => {
  const { cached, calls, advance } = setup();
  await cached.verify('acme.token');
  advance(59_999);
  await cached.verify('acme.token');
  expect(calls).toHaveLength(1);
  advance(1);
  await cached.verify('acme.token');
  expect(calls).toHaveLength(2);
});

test('refusals are not remembered: a bad token reaches the verifier every time', async () => {
  const { cached, calls } = setup();
  await expect(cached.verify('bad.token')).rejects.toThrow('invalid token');
  await expect(cached.verify('bad.token')).rejects.toThrow('invalid token');
  expect(calls).toEqual(['bad.token', 'bad.token']);
  expect(cached.cachedTokens).toBe(0);
});

test('entries are bounded: past maxEntries the least recently verified is forgotten', async () => {
  const { cached, calls } = setup(3_600_000, { maxEntries: 2, maxAgeMs: 60_000 });
  await cached.verify('a.token');
  await cached.verify('b.token');
  await cached.verify('c.token');
  expect(cached.cachedTokens).toBe(2);
  await cached.verify('c.token');
  await cached.verify('b.token');
  expect(calls).toEqual(['a.token', 'b.token', 'c.token']);
  await cached.verify('a.token');
  expect(calls).toEqual(['a.token', 'b.token', 'c.token', 'a.token']);
  expect(cached.cachedTokens).toBe(2);
});

test('tokens that end alike never answer for each other: each is compared whole', async () => {
  const { cached, calls } = setup();
  const tail = '.'.padEnd(40, 'x');
  await cached.verify(`acme${tail}`);
  await cached.verify(`acmf${tail}`);
  expect((await cached.verify(`acme${tail}`)).tenantId).toBe('acme');
  expect(calls).toEqual([`acme${tail}`, `acmf${tail}`, `acme${tail}`]);
  expect(cached.verifyCached?.(`acmf${tail}`)).toBeUndefined();
});
