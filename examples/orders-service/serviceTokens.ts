import { readFile } from 'node:fs/promises';
import { SettingsError } from '../../common/settings';
import { issueDevToken } from '../../scripts/stack/localIssuer';
import type { TokenProvider } from '../../sdk';

/** Local-issuer tokens live an hour; mint a new one well before that. */
const LOCAL_TOKEN_REUSE_MS = 30 * 60_000;

/**
 * Where the service's ConfigService tokens come from. In production a sidecar or agent keeps a Cognito
 * access token (group `services`) per tenant in a file: SERVICE_TOKEN_FILE names it, `{tenant}` standing
 * for the tenant id, and the file is re-read on every use so rotation needs no restart. On the local
 * stack (LOCAL_ISSUER_JWKS_URL set) the local issuer mints them instead.
 */
export function serviceTokenProvider(service: string, env = process.env): TokenProvider {
  const template = env.SERVICE_TOKEN_FILE;
  if (template) {
    return async (tenantId) => (await readFile(template.replaceAll('{tenant}', tenantId), 'utf8')).trim();
  }
  if (env.LOCAL_ISSUER_JWKS_URL) return localIssuerTokens(service);
  throw new SettingsError(
    'invalid environment: SERVICE_TOKEN_FILE: required (a file per tenant, e.g. /run/tokens/{tenant}.jwt) ' +
      'unless LOCAL_ISSUER_JWKS_URL points at the local stack',
  );
}

/**
 * The token a pooled instance asks for its instance grant with: a Cognito access token of the
 * platform's `pool-services` group, from POOL_GRANT_TOKEN_FILE (re-read on every use), or minted by the
 * local issuer on the local stack. Silo instances use their tenant's service token instead.
 */
export function poolGrantTokenProvider(service: string, env = process.env): () => Promise<string> {
  const file = env.POOL_GRANT_TOKEN_FILE;
  if (file) return async () => (await readFile(file, 'utf8')).trim();
  if (env.LOCAL_ISSUER_JWKS_URL) {
    return () =>
      Promise.resolve(
        issueDevToken({ tenantId: 'platform', groups: ['pool-services'], subject: `${service}-pool` }),
      );
  }
  throw new SettingsError(
    'invalid environment: POOL_GRANT_TOKEN_FILE: required for a pooled instance (a pool-services token) ' +
      'unless LOCAL_ISSUER_JWKS_URL points at the local stack',
  );
}

function localIssuerTokens(service: string): TokenProvider {
  const minted = new Map<string, { token: string; at: number }>();
  return (tenantId) => {
    const cached = minted.get(tenantId);
    if (cached && Date.now() - cached.at < LOCAL_TOKEN_REUSE_MS) return Promise.resolve(cached.token);
    const token = issueDevToken({ tenantId, groups: ['services'], subject: `${service}-service` });
    minted.set(tenantId, { token, at: Date.now() });
    return Promise.resolve(token);
  };
}
