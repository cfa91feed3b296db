import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomUUID,
  sign,
} from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { type Group, LOCAL_ISSUER } from '../../common/constants';
import { localStateDir } from '../../common/repoRoot';
import { cognitoIssuer, GROUPS_CLAIM, TENANT_CLAIM } from '../../common/tokenClaims';

/**
 * The local stand-in for a Cognito user pool: an RSA key pair made at setup, whose public half is served
 * as a JWKS on loopback, and tokens shaped like Cognito's. Development and tests only.
 */

export interface IssuerKeys {
  readonly kid: string;
  readonly privateKeyPem: string;
  readonly jwks: { keys: Record<string, unknown>[] };
}

export function issuerDir(): string {
  return process.env.LOCAL_ISSUER_DIR ?? localStateDir('issuer');
}

/** Makes the key pair once; later calls reuse it so tokens stay valid across restarts. */
export function ensureIssuerKeys(dir: string = issuerDir()): IssuerKeys {
  const privatePath = path.join(dir, 'private.pem');
  if (!existsSync(privatePath)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(privatePath, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  }
  return keysFromPem(readFileSync(privatePath, 'utf8'));
}

export function keysFromPem(privateKeyPem: string): IssuerKeys {
  const jwk = createPublicKey(createPrivateKey(privateKeyPem)).export({ format: 'jwk' });
  // RFC 7638 thumbprint: a stable kid derived from the key itself.
  const kid = createHash('sha256')
    .update(JSON.stringify({ e: jwk.e, kty: jwk.kty, n: jwk.n }))
    .digest('base64url');
  return { kid, privateKeyPem, jwks: { keys: [{ ...jwk, kid, alg: 'RS256', use: 'sig' }] } };
}

export type TokenUse = 'access' | 'id';

export interface DevTokenRequest {
  readonly tenantId: string;
  readonly groups: readonly Group[];
  readonly subject?: string;
  readonly tokenUse?: TokenUse;
  readonly ttlSeconds?: number;
}

/** The claims Cognito puts in an access or id token, plus the tenant claim the platform relies on. */
export function devTokenClaims(request: DevTokenRequest, nowSeconds = Math.floor(Date.now() / 1000)) {
  const subject = request.subject ?? `dev-${request.tenantId}-${request.groups.join('-') || 'nogroup'}`;
  const common = {
    sub: subject,
    iss: cognitoIssuer(LOCAL_ISSUER.userPoolId),
    [GROUPS_CLAIM]: [...request.groups],
    [TENANT_CLAIM]: request.tenantId,
    auth_time: nowSeconds,
    iat: nowSeconds,
    exp: nowSeconds + (request.ttlSeconds ?? 3600),
    jti: randomUUID(),
  };
  return (request.tokenUse ?? 'access') === 'access'
    ? { ...common, token_use: 'access', client_id: LOCAL_ISSUER.clientId, scope: 'openid', username: subject }
    : { ...common, token_use: 'id', aud: LOCAL_ISSUER.clientId, 'cognito:username': subject };
}

export function signJwt(
  payload: Record<string, unknown>,
  keys: IssuerKeys,
  header: Record<string, unknown> = { alg: 'RS256', kid: keys.kid, typ: 'JWT' },
): string {
  const encode = (part: Record<string, unknown>) => Buffer.from(JSON.stringify(part)).toString('base64url');
  const signingInput = `${encode(header)}.${encode(payload)}`;
  const signature = sign('RSA-SHA256', Buffer.from(signingInput), keys.privateKeyPem).toString('base64url');
  return `${signingInput}.${signature}`;
}

export function issueDevToken(request: DevTokenRequest, keys: IssuerKeys = ensureIssuerKeys()): string {
  return signJwt(devTokenClaims(request), keys);
}
