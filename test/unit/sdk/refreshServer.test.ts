import * as grpc from '@grpc/grpc-js';
import { createLogger } from '../../../common/logger';
import type { RefreshRequest } from '../../../gen/proto/configsvc/v1/RefreshRequest';
import { HeldConfig } from '../../../sdk/heldConfig';
import {
  createCacheRefreshHandlers,
  type ServingStatus,
  startRefreshServer,
} from '../../../sdk/refreshServer';
import type { InstanceTenancy } from '../../../sdk/tenancy';
import { generatePushKeys, pushAuthorization, RefreshCaller } from '../../support/refreshCaller';

/**
 * The CacheRefresh server on loopback with real push tokens: one control-plane key pair it trusts and
 * one it does not. The held-config rules themselves are covered in heldConfig.test.ts.
 */
const SERVICE = 'orders';
const controlPlane = generatePushKeys();
const forger = generatePushKeys();
const authorized = () => pushAuthorization(controlPlane, SERVICE);

async function startInstance(tenancy: InstanceTenancy) {
  const held = new HeldConfig(() => undefined);
  const health: { status: ServingStatus } = { status: 'SERVING' };
  const server = await startRefreshServer(
    createCacheRefreshHandlers({
      service: SERVICE,
      tenancy,
      pushVerifyKeyPem: controlPlane.publicKeyPem,
      held,
      status: () => Promise.resolve(health.status),
      instanceId: () => `${tenancy.kind}-instance`,
      logger: createLogger({}, 'error'),
    }),
    { host: '127.0.0.1', port: 0 },
  );
  return { held, health, server, caller: new RefreshCaller(`127.0.0.1:${server.port}`) };
}

type Instance = Awaited<ReturnType<typeof startInstance>>;

let pool: Instance;
let silo: Instance;

beforeAll(async () => {
  [pool, silo] = await Promise.all([
    startInstance({ kind: 'pool' }),
    startInstance({ kind: 'silo', tenantId: 'acme' }),
  ]);
});

afterAll(async () => {
  for (const instance of [pool, silo]) {
    instance.caller.close();
    await instance.server.stop();
  }
});

const push = (overrides: Partial<RefreshRequest> = {}): RefreshRequest => ({
  tenant_id: 'acme',
  key: 'tenant_config_featureFlags',
  version: 1,
  value: '{"beta":true}',
  format: 'json',
  rollout_id: 'rollout-1',
  ...overrides,
});

describe('a push without a valid push token for this service is refused with UNAUTHENTICATED', () => {
  const cases: [string, () => string | undefined, RegExp][] = [
    ['no authorization', () => undefined, /missing push token/],
    ['a scheme other than Bearer', () => 'Basic b3JkZXJzOnNlY3JldA==', /missing push token/],
    ['a token that is not a JWT', () => 'Bearer not-a-token', /not a JWT/],
    [
      'a token for another service',
      () => pushAuthorization(controlPlane, 'billing'),
      /audience is not service:orders/,
    ],
    ['an expired token', () => pushAuthorization(controlPlane, SERVICE, -120), /expired/],
    ['a token signed with another key', () => pushAuthorization(forger, SERVICE), /invalid signature/],
  ];

  test.each(cases)('%s: Refresh is refused and nothing is applied', async (_name, authorization, reason) => {
    const tenant = `t-${Math.random().toString(36).slice(2, 10)}`;
    const outcome = await pool.caller.refresh(push({ tenant_id: tenant }), authorization());
    expect(outcome.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(outcome.details).toMatch(reason);
    expect(outcome.errorField).toBe('authorization');
    expect(pool.held.has({ tenantId: tenant, key: 'tenant_config_featureFlags' })).toBe(false);
  });

  test.each(cases)('%s: Health is refused', async (_name, authorization, reason) => {
    const outcome = await pool.caller.health({ keys: [] }, authorization());
    expect(outcome.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(outcome.details).toMatch(reason);
  });
});

describe('an authenticated push', () => {
  test('applies and answers the held version; a repeat answers applied=false', async () => {
    const request = push({ tenant_id: 'applies', version: 3 });
    expect((await pool.caller.refresh(request, authorized())).response).toEqual({
      held_version: 3,
      applied: true,
    });
    expect((await pool.caller.refresh(request, authorized())).response).toEqual({
      held_version: 3,
      applied: false,
    });
    expect(pool.held.value({ tenantId: 'applies', key: 'tenant_config_featureFlags' })).toEqual({
      version: 3,
      value: '{"beta":true}',
      format: 'json',
    });
  });

  test('of a removal reports the removal’s version as held', async () => {
    await pool.caller.refresh(push({ tenant_id: 'removes', version: 1 }), authorized());
    const outcome = await pool.caller.refresh(
      { ...push({ tenant_id: 'removes', version: 2 }), value: undefined, removed: true },
      authorized(),
    );
    expect(outcome.response).toEqual({ held_version: 2, applied: true });
    expect(pool.held.value({ tenantId: 'removes', key: 'tenant_config_featureFlags' })).toBeUndefined();
  });

  test('of a rollback replaces the held candidate with the older version', async () => {
    await pool.caller.refresh(push({ tenant_id: 'reverts', version: 1, value: '"one"' }), authorized());
    await pool.caller.refresh(push({ tenant_id: 'reverts', version: 2, value: '"two"' }), authorized());
    const outcome = await pool.caller.refresh(
      push({ tenant_id: 'reverts', version: 1, value: '"one"', revert_from: 2 }),
      authorized(),
    );
    expect(outcome.response).toEqual({ held_version: 1, applied: true });
  });
});

describe('a silo instance', () => {
  test('refuses a push for another tenant with PERMISSION_DENIED naming tenant_id', async () => {
    const outcome = await silo.caller.refresh(push({ tenant_id: 'globex' }), authorized());
    expect(outcome.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(outcome.errorField).toBe('tenant_id');
    expect(outcome.details).toMatch(/silo for tenant "acme"/);
    expect(silo.held.has({ tenantId: 'globex', key: 'tenant_config_featureFlags' })).toBe(false);
  });

  test('applies a push for its own tenant', async () => {
    expect((await silo.caller.refresh(push(), authorized())).response).toEqual({
      held_version: 1,
      applied: true,
    });
  });
});

describe('a malformed push is refused with INVALID_ARGUMENT naming the field', () => {
  test.each<[string, Partial<RefreshRequest>, string]>([
    ['no tenant', { tenant_id: '' }, 'tenant_id'],
    ['a tenant id with a slash', { tenant_id: 'a/b' }, 'tenant_id'],
    ['no key', { key: '' }, 'key'],
    ['a key with ".."', { key: 'tenant_config_..x' }, 'key'],
    ['a malformed service', { service: '../orders' }, 'service'],
    ['a negative version', { version: -1 }, 'version'],
    ['a value at version 0', { version: 0 }, 'version'],
    ['neither a value nor removed', { value: undefined }, 'value'],
    ['an unknown format', { format: 'yaml' }, 'format'],
    ['revert_from not newer than the version', { version: 2, revert_from: 2 }, 'revert_from'],
  ])('%s', async (_name, overrides, field) => {
    const outcome = await pool.caller.refresh(push(overrides), authorized());
    expect(outcome.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(outcome.errorField).toBe(field);
  });
});

describe('Health', () => {
  test('reports SERVING, the instance id and the held version of each key in request order (0: none)', async () => {
    await pool.caller.refresh(push({ tenant_id: 'health', version: 4 }), authorized());
    await pool.caller.refresh(
      push({
        tenant_id: 'health',
        key: 'param_config_apiEndpoint',
        service: 'orders',
        version: 9,
        value: 'x',
        format: 'text',
      }),
      authorized(),
    );
    const outcome = await pool.caller.health(
      {
        keys: [
          { tenant_id: 'health', key: 'param_config_apiEndpoint', service: 'orders' },
          { tenant_id: 'health', key: 'tenant_config_never' },
          { tenant_id: 'health', key: 'tenant_config_featureFlags' },
        ],
      },
      authorized(),
    );
    expect(outcome.response).toEqual({
      status: 'SERVING',
      instance_id: 'pool-instance',
      held_versions: [9, 0, 4],
    });
  });

  test('reports NOT_SERVING when the instance says it is unhealthy', async () => {
    silo.health.status = 'NOT_SERVING';
    try {
      expect((await silo.caller.health({ keys: [] }, authorized())).response?.status).toBe('NOT_SERVING');
    } finally {
      silo.health.status = 'SERVING';
    }
  });

  test('names the malformed key among several', async () => {
    const outcome = await pool.caller.health(
      {
        keys: [
          { tenant_id: 'acme', key: 'tenant_config_ok' },
          { tenant_id: 'acme', key: '' },
        ],
      },
      authorized(),
    );
    expect(outcome.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(outcome.errorField).toBe('keys[1].key');
  });
});
