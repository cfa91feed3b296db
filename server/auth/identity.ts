import { ROLE_BY_GROUP, type Role } from '../../common/constants';
import { PermissionDeniedError, UnauthenticatedError } from '../../common/errors';

/** Who is calling, as proven by a verified token. The only source of a request's tenant. */
export interface Identity {
  readonly tenantId: string;
  /** The token's `sub`: who acted, for audit. */
  readonly subject: string;
  readonly roles: readonly Role[];
  /** When the token expires (ms since the epoch): what it opened, a stream say, ends then too. */
  readonly expiresAt: number;
}

export type Action =
  | 'config:read'
  | 'config:write'
  | 'rollout:read'
  | 'rollout:act'
  | 'instance:grant'
  | 'payload:decode'
  | 'payload:encode'
  | 'freeze:read'
  | 'freeze:platform';

/**
 * Services read their tenant's config and nothing more: their token sits on every instance, so it is
 * the likeliest to leak, and rollouts (their plans, histories, actors, streams) are no business of theirs.
 */
const ROLES_ALLOWED: Record<Action, readonly Role[]> = {
  'config:read': ['release_manager', 'operator', 'service'],
  'config:write': ['release_manager'],
  'rollout:read': ['release_manager', 'operator'],
  'rollout:act': ['release_manager'],
  'instance:grant': ['service', 'pool_service'],
  // Temporal payloads of every tenant: no tenant role may open them.
  'payload:decode': ['platform_operator'],
  'payload:encode': ['platform_operator'],
  // Whoever may see a rollout refused or held may see why; a tenant freeze is set with rollout:act.
  'freeze:read': ['release_manager', 'operator', 'platform_admin'],
  // Holds every tenant's rollouts: only the platform's administrators.
  'freeze:platform': ['platform_admin'],
};

export function rolesFromGroups(groups: readonly string[]): Role[] {
  return groups.flatMap((group) =>
    group in ROLE_BY_GROUP ? [ROLE_BY_GROUP[group as keyof typeof ROLE_BY_GROUP]] : [],
  );
}

export function authorize(identity: Identity, action: Action): void {
  if (!identity.roles.some((role) => ROLES_ALLOWED[action].includes(role))) {
    const groups = Object.entries(ROLE_BY_GROUP)
      .filter(([, role]) => ROLES_ALLOWED[action].includes(role))
      .map(([group]) => group);
    throw new PermissionDeniedError(
      `${action} requires membership of one of the groups: ${groups.join(', ')}`,
    );
  }
}

/** Reads `Bearer <token>` from an Authorization header or gRPC metadata value. */
export function bearerToken(header: unknown): string {
  if (typeof header !== 'string' || header.length === 0) {
    throw new UnauthenticatedError(
      'missing credentials: send "authorization: Bearer <token>"',
      'authorization',
    );
  }
  const match = /^Bearer\s+(\S+)$/i.exec(header.trim());
  if (!match?.[1]) {
    throw new UnauthenticatedError('malformed authorization: expected "Bearer <token>"', 'authorization');
  }
  return match[1];
}
