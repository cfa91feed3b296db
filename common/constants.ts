/** Names and defaults shared by every part of the platform, kept in one place. */

/** Root of the Parameter Store tree the platform owns; nothing else (no status, no settings) lives under it. */
export const SSM_ROOT = '/config-service';

/** The Parameter Store label that marks the version served to cache-miss reads. */
export const SSM_LIVE_LABEL = 'live';

export const DEFAULT_CONFIG_TABLE = 'tenant-config';
/** Value schemas have a table of their own: the config service may write it, never the config table. */
export const DEFAULT_SCHEMA_TABLE = 'tenant-config-schemas';

export const DEFAULT_PORTS = {
  grpc: 50051,
  http: 8080,
  temporal: 7233,
  temporalUi: 8233,
  dynamodb: 8000,
  moto: 5000,
  issuer: 8090,
  workerHealth: 8091,
  metrics: 9464,
  workerRuntimeMetrics: 9465,
} as const;

/** The local issuer impersonates a Cognito user pool so the very same verifier runs locally and on AWS. */
export const LOCAL_ISSUER = {
  region: 'us-east-1',
  userPoolId: 'us-east-1_localdev',
  clientId: 'local-dev-client',
} as const;

/**
 * Cognito groups and the roles they grant. Roles come from `cognito:groups` only. The platform operators'
 * group is the platform's, not a tenant's: it grants reading Temporal payloads, which may hold any
 * tenant's values, and nothing else.
 */
export const ROLE_BY_GROUP = {
  'release-managers': 'release_manager',
  operators: 'operator',
  services: 'service',
  // The platform's own pooled services, which serve every tenant: never a tenant's group.
  'pool-services': 'pool_service',
  'config-platform-operators': 'platform_operator',
  // Freezes every tenant's rollouts during a platform incident; a group of the platform's, never a tenant's,
  // apart from the operators' so that reading payloads and stopping every rollout are granted separately.
  'config-platform-admins': 'platform_admin',
} as const;

export type Role = (typeof ROLE_BY_GROUP)[keyof typeof ROLE_BY_GROUP];
export type Group = keyof typeof ROLE_BY_GROUP;
