import { createHmac, createPublicKey, generateKeyPairSync } from 'node:crypto';
import {
  devTokenClaims,
  type DevTokenRequest,
  ensureIssuerKeys,
  keysFromPem,
  signJwt,
} from '../../scripts/stack/localIssuer';

/** Tokens good and bad, signed like the local issuer (or deliberately not), for the auth tests. */
const keys = () => ensureIssuerKeys();
const base: DevTokenRequest = { tenantId: 'acme', groups: ['operators'] };

export function validToken(request: DevTokenRequest): string {
  return signJwt(devTokenClaims(request), keys());
}

function unsigned(header: Record<string, unknown>): string {
  const encode = (part: object) => Buffer.from(JSON.stringify(part)).toString('base64url');
  return `${encode(header)}.${encode(devTokenClaims(base))}`;
}

function withoutClaim(claim: string): string {
  const claims: Record<string, unknown> = { ...devTokenClaims(base) };
  delete claims[claim];
  return signJwt(claims, keys());
}

/** Each bad token with the reason the verifier must give, so a test proves it failed for that reason. */
export const badTokens: Record<string, { make: () => string; reason: RegExp }> = {
  malformed: { reason: /Invalid JWT/, make: () => 'not.a.jwt' },
  expired: {
    reason: /expired/,
    make: () => {
      const now = Math.floor(Date.now() / 1000);
      return signJwt({ ...devTokenClaims(base, now - 7200), exp: now - 3600 }, keys());
    },
  },
  'bad signature': {
    reason: /Invalid signature/,
    make: () => {
      // Same kid as the real key, different private key: only the signature check can catch it.
      const pem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
        type: 'pkcs8',
        format: 'pem',
      });
      return signJwt(devTokenClaims(base), { ...keysFromPem(pem.toString()), kid: keys().kid });
    },
  },
  'alg none and no signature': {
    reason: /Invalid JWT|3 parts/,
    make: () => `${unsigned({ alg: 'none', typ: 'JWT' })}.`,
  },
  'alg none and a signature': {
    reason: /alg/i,
    make: () => `${unsigned({ alg: 'none', kid: keys().kid, typ: 'JWT' })}.c2lnbmF0dXJl`,
  },
  'HS256 signed with the public key as the secret': {
    reason: /alg/i,
    make: () => {
      const input = unsigned({ alg: 'HS256', kid: keys().kid, typ: 'JWT' });
      const publicPem = createPublicKey(keys().privateKeyPem).export({ type: 'spki', format: 'pem' });
      return `${input}.${createHmac('sha256', publicPem).update(input).digest('base64url')}`;
    },
  },
  'wrong issuer': {
    reason: /issuer/,
    make: () =>
      signJwt(
        { ...devTokenClaims(base), iss: 'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_other' },
        keys(),
      ),
  },
  'wrong client': {
    reason: /Client ID not allowed/,
    make: () => signJwt({ ...devTokenClaims(base), client_id: 'someone-elses-client' }, keys()),
  },
  'id token where an access token is expected': {
    reason: /Token use not allowed: id/,
    make: () => signJwt(devTokenClaims({ ...base, tokenUse: 'id' }), keys()),
  },
  'no tenant claim': { reason: /custom:tenantId/, make: () => withoutClaim('custom:tenantId') },
  'a tenant claim that is not a tenant id': {
    reason: /custom:tenantId/,
    make: () => signJwt({ ...devTokenClaims(base), 'custom:tenantId': '../acme' }, keys()),
  },
  'no expiry': { reason: /expiry/, make: () => withoutClaim('exp') },
  'issued in the future': {
    reason: /issued in the future/,
    make: () => {
      const inAnHour = Math.floor(Date.now() / 1000) + 3600;
      return signJwt(devTokenClaims(base, inAnHour), keys());
    },
  },
};
