import { status } from '@grpc/grpc-js';
import {
  BackendUnavailableError,
  LimitExceededError,
  NotFoundError,
  PermissionDeniedError,
  UnauthenticatedError,
  VersionConflictError,
} from '../../common/errors';
import {
  loadAuthSettings,
  loadRolloutWorkerSettings,
  loadServerSettings,
  SettingsError,
} from '../../common/settings';
import { authorize, bearerToken } from '../../server/auth/identity';
import { assertNoTenantNamed } from '../../server/auth/tenantSmuggling';
import { errorReply } from '../../common/errorStatus';

describe('error status mapping', () => {
  test.each([
    [new VersionConflictError('k', 1, 2), 409, status.ABORTED],
    [new NotFoundError('gone'), 404, status.NOT_FOUND],
    [new UnauthenticatedError('who?'), 401, status.UNAUTHENTICATED],
    [new PermissionDeniedError('no'), 403, status.PERMISSION_DENIED],
    [new BackendUnavailableError('down'), 503, status.UNAVAILABLE],
    [new LimitExceededError('identity-rate', 'slow down', 2), 429, status.RESOURCE_EXHAUSTED],
  ])('%p maps to HTTP %i and gRPC %i', (error, http, grpc) => {
    expect(errorReply(error)).toMatchObject({ http, grpc, code: error.code });
  });

  test('a limit exceeded carries which limit and when to retry', () => {
    expect(errorReply(new LimitExceededError('tenant-streams', 'too many', 5))).toMatchObject({
      limit: 'tenant-streams',
      retryAfterSeconds: 5,
    });
  });

  test('an unexpected error is internal and leaks no detail', () => {
    expect(errorReply(new Error('password=hunter2'))).toEqual({
      http: 500,
      grpc: status.INTERNAL,
      code: 'Internal',
      message: 'internal error',
    });
  });
});

describe('tenant smuggling check', () => {
  test.each(['tenantId', 'tenant_id', 'TENANT-ID', 'x-tenant-id', 'tenant', 'custom:tenantId'])(
    'refuses %s',
    (name) => {
      expect(() => assertNoTenantNamed([name], 'query string')).toThrow(/taken from your token/);
    },
  );

  test.each(['service', 'version', 'authorization', 'tenants-count'])('lets %s through', (name) => {
    expect(() => assertNoTenantNamed([name], 'query string')).not.toThrow();
  });
});

describe('roles and credentials', () => {
  test('an operator may read config but not act on rollouts', () => {
    const operator = { tenantId: 'a', subject: 's', roles: ['operator'] as const, expiresAt: 0 };
    expect(() => authorize(operator, 'config:read')).not.toThrow();
    expect(() => authorize(operator, 'rollout:act')).toThrow(/release-managers/);
  });

  test('a service may read config and nothing about rollouts', () => {
    const service = { tenantId: 'a', subject: 's', roles: ['service'] as const, expiresAt: 0 };
    expect(() => authorize(service, 'config:read')).not.toThrow();
    expect(() => authorize(service, 'rollout:read')).toThrow(/operators/);
  });

  test.each([undefined, '', 'Bearer', 'Token abc', 'Bearer a b'])(
    'the authorization %p is refused',
    (header) => {
      expect(() => bearerToken(header)).toThrow(UnauthenticatedError);
    },
  );
});

describe('settings', () => {
  test('a missing user pool id stops start-up with a message naming the variable', () => {
    expect(() => loadAuthSettings({ COGNITO_CLIENT_ID: 'x' })).toThrow(/COGNITO_USER_POOL_ID/);
  });

  test('a local issuer JWKS URL off loopback is refused', () => {
    expect(() =>
      loadAuthSettings({
        COGNITO_USER_POOL_ID: 'us-east-1_abc',
        COGNITO_CLIENT_ID: 'x',
        LOCAL_ISSUER_JWKS_URL: 'http://10.0.0.5/jwks.json',
      }),
    ).toThrow(SettingsError);
  });

  test('a malformed port names the variable', () => {
    expect(() => loadServerSettings({ GRPC_PORT: 'fifty' })).toThrow(/GRPC_PORT/);
  });

  test('the read cache lives at most a minute, for the config service and the worker alike', () => {
    expect(loadServerSettings({ ...SERVER_KEYS, CONFIG_CACHE_TTL_MS: '60000' }).cacheTtlMs).toBe(60_000);
    expect(() => loadServerSettings({ ...SERVER_KEYS, CONFIG_CACHE_TTL_MS: '60001' })).toThrow(
      /CONFIG_CACHE_TTL_MS/,
    );
    expect(loadRolloutWorkerSettings({ ...WORKER_KEYS, CONFIG_CACHE_TTL_MS: '0' }).readCacheTtlMs).toBe(0);
    expect(() => loadRolloutWorkerSettings({ ...WORKER_KEYS, CONFIG_CACHE_TTL_MS: '120000' })).toThrow(
      /CONFIG_CACHE_TTL_MS/,
    );
  });

  test("the console's hosted UI needs its domain and client together; neither means token sign-in only", () => {
    expect(loadServerSettings(SERVER_KEYS).console).toEqual({});
    expect(
      loadServerSettings({
        ...SERVER_KEYS,
        CONSOLE_COGNITO_DOMAIN: 'https://auth.example.com/',
        CONSOLE_CLIENT_ID: 'console',
      }).console,
    ).toEqual({
      hostedUi: { domain: 'https://auth.example.com', clientId: 'console', redirectUri: undefined },
    });
    expect(() => loadServerSettings({ ...SERVER_KEYS, CONSOLE_CLIENT_ID: 'console' })).toThrow(
      /CONSOLE_COGNITO_DOMAIN and CONSOLE_CLIENT_ID go together/,
    );
    expect(() => loadServerSettings({ ...SERVER_KEYS, CONSOLE_COGNITO_DOMAIN: 'auth.example.com' })).toThrow(
      /CONSOLE_COGNITO_DOMAIN/,
    );
    expect(() =>
      loadServerSettings({
        ...SERVER_KEYS,
        CONSOLE_COGNITO_DOMAIN: 'http://auth.example.com',
        CONSOLE_CLIENT_ID: 'c',
      }),
    ).toThrow(/CONSOLE_COGNITO_DOMAIN: must be https/);
  });

  test('the config service and the worker name the key files they cannot start without', () => {
    expect(() => loadServerSettings({})).toThrow(/INSTANCE_GRANT_SIGNING_KEY_FILE: Required/);
    expect(() => loadRolloutWorkerSettings({ PUSH_SIGNING_KEY_FILE: 'k.pem' })).toThrow(
      /INSTANCE_GRANT_VERIFY_KEY_FILE: Required/,
    );
  });

  test('where pushes may go: CIDRs and port ranges, each malformed entry named', () => {
    const settings = loadRolloutWorkerSettings({
      ...WORKER_KEYS,
      INSTANCE_ALLOWED_CIDRS: '10.1.0.0/16, 127.0.0.0/8',
      INSTANCE_ALLOWED_PORTS: '8443,9000-9100',
    });
    expect(settings.allowedCidrs).toEqual(['10.1.0.0/16', '127.0.0.0/8']);
    expect(settings.allowedPorts).toEqual([
      { from: 8443, to: 8443 },
      { from: 9000, to: 9100 },
    ]);
    expect(loadRolloutWorkerSettings(WORKER_KEYS).allowedCidrs).toEqual([
      '10.0.0.0/8',
      '172.16.0.0/12',
      '192.168.0.0/16',
    ]);
    for (const cidr of ['10.0.0.0', '10.0.0.0/33', 'example.com/8', '::1/128']) {
      expect(() => loadRolloutWorkerSettings({ ...WORKER_KEYS, INSTANCE_ALLOWED_CIDRS: cidr })).toThrow(
        /INSTANCE_ALLOWED_CIDRS/,
      );
    }
    for (const ports of ['0-80', '9100-9000', '70000', 'http']) {
      expect(() => loadRolloutWorkerSettings({ ...WORKER_KEYS, INSTANCE_ALLOWED_PORTS: ports })).toThrow(
        /INSTANCE_ALLOWED_PORTS/,
      );
    }
  });

  test('missing keys are remembered no longer than values, so the rollout waits out both alike', () => {
    expect(loadServerSettings(SERVER_KEYS).cacheNegativeTtlMs).toBe(1000);
    expect(
      loadServerSettings({ ...SERVER_KEYS, CONFIG_CACHE_TTL_MS: '500', CONFIG_CACHE_NEGATIVE_TTL_MS: '3000' })
        .cacheNegativeTtlMs,
    ).toBe(500);
    expect(loadServerSettings({ ...SERVER_KEYS, CONFIG_CACHE_TTL_MS: '0' }).cacheNegativeTtlMs).toBe(0);
  });
});

const SERVER_KEYS = { INSTANCE_GRANT_SIGNING_KEY_FILE: 'grant.pem' };
const WORKER_KEYS = { PUSH_SIGNING_KEY_FILE: 'k.pem', INSTANCE_GRANT_VERIFY_KEY_FILE: 'grant.pub' };
