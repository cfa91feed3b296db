/**
 * The signed-in user's bearer token. It lives in sessionStorage only: gone when the tab closes, never in
 * localStorage, a cookie (no CSRF surface: every request carries it explicitly) or a URL (no leak through
 * history or a Referer). The claims read here only decide what the page shows; the server checks the token.
 */
const TOKEN_KEY = 'cfg-console.token';
const TENANT_CLAIM = 'custom:tenantId';
const GROUPS_CLAIM = 'cognito:groups';

export interface Session {
  readonly token: string;
  readonly subject: string;
  readonly tenantId: string;
  readonly groups: readonly string[];
  readonly expiresAt: number;
  readonly canAct: boolean;
}

export class SessionError extends Error {}

/** Reads a JWT's claims without verifying it: the page trusts nothing it shows to the signature. */
export function sessionFromToken(token: string): Session {
  const payload = token.trim().split('.')[1];
  if (!payload) throw new SessionError('that is not a token: expected three dot-separated parts');
  let claims: Record<string, unknown>;
  try {
    claims = JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/'))) as Record<string, unknown>;
  } catch {
    throw new SessionError('that is not a token: its claims are not readable');
  }
  const groups = Array.isArray(claims[GROUPS_CLAIM]) ? (claims[GROUPS_CLAIM] as unknown[]).map(String) : [];
  const expiresAt = typeof claims.exp === 'number' ? claims.exp * 1000 : 0;
  if (expiresAt <= Date.now()) throw new SessionError('that token has expired: get a fresh one');
  return {
    token: token.trim(),
    subject: typeof claims.sub === 'string' ? claims.sub : 'unknown',
    tenantId: typeof claims[TENANT_CLAIM] === 'string' ? claims[TENANT_CLAIM] : 'unknown',
    groups,
    expiresAt,
    canAct: groups.includes('release-managers'),
  };
}

export function storeSession(token: string): Session {
  const session = sessionFromToken(token);
  sessionStorage.setItem(TOKEN_KEY, session.token);
  return session;
}

/** The stored session, or undefined when there is none or it has expired (which then clears it). */
export function currentSession(): Session | undefined {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) return undefined;
  try {
    return sessionFromToken(token);
  } catch {
    clearSession();
    return undefined;
  }
}

export function clearSession(): void {
  sessionStorage.removeItem(TOKEN_KEY);
}
