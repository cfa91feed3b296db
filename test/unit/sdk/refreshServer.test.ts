import * as grpc from '@grpc/grpc-js';
import { createLogger } from '../../../common/logger';
import { generateKeyPairSync } from 'node:crypto';
import { NonceGuard, pushAudience } from '../../../common/pushGrant';
import { InstancePushSessions, PUSH_SESSION_METADATA } from '../../../common/pushSession';
import { generateSealingKeys } from '../../../common/sealedValue';
import { ed25519Key, signToken } from '../../../common/signedToken';
import { OutcomeCounters } from '../../../sdk/outcomeCounters';
import { HeldConfig } from '../../../sdk/heldConfig';
import {
  createCacheRefreshHandlers,
  type ServingStatus,
  startRefreshServer,
} from '../../../sdk/refreshServer';
import type { InstanceTenancy } from '../../../sdk/tenancy';
import {
  type PlainPush,
  type PushCredentials,
  type PushTarget,
  RefreshCaller,
  TestControlPlane,
} from '../../support/refreshCaller';

/**
 * The CacheRefresh server on loopback with real push grants and sealed values: one control plane it
 * trusts and one it does not. The held-config rules themselves are covered in heldConfig.test.ts; the
 * attacks on grants, in test/security/pushPath.test.ts.
 */
const SERVICE = 'orders';
const controlPlaneKeys = generateKeyPairSync('ed25519');
const controlPlane = new TestControlPlane({
  privateKey: controlPlaneKeys.privateKey,
  publicKeyPem: controlPlaneKeys.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
});
const forger = new TestControlPlane();

async function startInstance(tenancy: InstanceTenancy) {
  const held = new HeldConfig(() => undefined);
  const outcomes = new OutcomeCounters();
  const health: { status: ServingStatus; unhealthyTenant?: string } = { status: 'SERVING' };
  const sealingKeys = generateSealingKeys();
  const instanceId = `${tenancy.kind}-instance`;
  let address = '';
  const server = await startRefreshServer(
    createCacheRefreshHandlers({
      service: SERVICE,
      tenancy,
      pushSessions: new InstancePushSessions(ed25519Key(controlPlane.publicKeyPem, 'public')!, sealingKeys),
      nonces: new NonceGuard(),
      held,
      outcomes,
      status: () => Promise.resolve(health.status),
      keyStatus: (address) =>
        Promise.resolve(health.unhealthyTenant === address.tenantId ? 'NOT_SERVING' : health.status),
      target: () => ({ service: SERVICE, instanceId, address }),
      logger: createLogger({}, 'error'),
    }),
    { host: '127.0.0.1', port: 0 },
  );
  address = `127.0.0.1:${server.port}`;
  const target: PushTarget = { service: SERVICE, instanceId, address, sealingKey: sealingKeys.publicKey };
  const caller = new RefreshCaller(address);
  return {
    held,
    outcomes,
    health,
    server,
    target,
    caller,
    /** A push as the control plane sends it. */
    refresh: (push: PlainPush) => caller.refresh(...controlPlane.refresh(target, push)),
    checkHealth: (keys: Parameters<TestControlPlane['health']>[1]) =>
      caller.health(...controlPlane.health(target, keys)),
  };
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

const push = (overrides: Partial<PlainPush> = {}): PlainPush => ({
  tenant_id: 'acme',
  key: 'tenant_config_featureFlags',
  version: 1,
  value: '{"beta":true}',
  format: 'json',
  rollout_id: 'rollout-1',
  ...overrides,
});

describe('a push without a valid push grant and session is refused with UNAUTHENTICATED', () => {
  const health = { op: 'health', keysHash: '' } as const;
  const withGrant = (target: PushTarget, authorization: string): PushCredentials => ({
    ...controlPlane.authorization(target, health),
    authorization,
  });
  const cases: [string, (target: PushTarget) => PushCredentials, RegExp, string][] = [
    [
      'no authorization',
      (target) => ({ session: controlPlane.authorization(target, health).session }),
      /missing push grant/,
      'authorization',
    ],
    [
      'a scheme other than Bearer',
      (target) => withGrant(target, 'Basic b3JkZXJzOnNlY3JldA=='),
      /missing push grant/,
      'authorization',
    ],
    [
      'a grant that is not a JWT',
      (target) => withGrant(target, 'Bearer not-a-token'),
      /not a JWT/,
      'authorization',
    ],
    [
      'a grant for another service',
      (target) => controlPlane.authorization(target, health, { grantTarget: { service: 'billing' } }),
      /not for this instance/,
      'authorization',
    ],
    [
      'an expired grant',
      (target) => controlPlane.authorization(target, health, { nowSeconds: Date.now() / 1000 - 120 }),
      /expired/,
      'authorization',
    ],
    [
      'a grant signed with Ed25519, as grants were before push sessions',
      (target) =>
        withGrant(
          target,
          `Bearer ${signToken(controlPlaneKeys.privateKey, { aud: pushAudience(target), op: 'health' })}`,
        ),
      /algorithm EdDSA is not allowed/,
      'authorization',
    ],
    [
      'no session certificate',
      (target) => ({ authorization: controlPlane.authorization(target, health).authorization }),
      /missing push session/,
      PUSH_SESSION_METADATA,
    ],
    [
      'a session certified with another key',
      (target) => forger.authorization(target, health),
      /push session refused: invalid signature/,
      PUSH_SESSION_METADATA,
    ],
    [
      'an expired session',
      (target) =>
        controlPlane.authorization(target, health, { sessionNowSeconds: Date.now() / 1000 - 2 * 3600 }),
      /push session refused: expired/,
      PUSH_SESSION_METADATA,
    ],
    [
      "a grant MAC'd under another session than the certificate sent",
      (target) => ({
        authorization: forger.authorization(target, health).authorization,
        session: controlPlane.authorization(target, health).session,
      }),
      /push grant refused: invalid signature/,
      'authorization',
    ],
  ];

  test.each(cases)(
    '%s: Refresh is refused and nothing is applied',
    async (_name, credentials, reason, field) => {
      const tenant = `t-${Math.random().toString(36).slice(2, 10)}`;
      const [request] = controlPlane.refresh(pool.target, push({ tenant_id: tenant }));
      const outcome = await pool.caller.refresh(request, credentials(pool.target));
      expect(outcome.code).toBe(grpc.status.UNAUTHENTICATED);
      expect(outcome.details).toMatch(reason);
      expect(outcome.errorField).toBe(field);
      expect(pool.held.has({ tenantId: tenant, key: 'tenant_config_featureFlags' })).toBe(false);
    },
  );

  test.each(cases)('%s: Health is refused', async (_name, credentials, reason) => {
    const outcome = await pool.caller.health({ keys: [] }, credentials(pool.target));
    expect(outcome.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(outcome.details).toMatch(reason);
  });
});

describe('an authenticated push', () => {
  test('applies and answers the held version; a repeat answers applied=false', async () => {
    const request = push({ tenant_id: 'applies', version: 3 });
    expect((await pool.refresh(request)).response).toEqual({
      held_version: 3,
      applied: true,
      key_status_before: 'SERVING',
    });
    expect((await pool.refresh(request)).response).toEqual({
      held_version: 3,
      applied: false,
      key_status_before: 'SERVING',
    });
    expect(pool.held.value({ tenantId: 'applies', key: 'tenant_config_featureFlags' })).toEqual({
      version: 3,
      value: '{"beta":true}',
      format: 'json',
    });
  });

  test('of a removal reports the removal’s version as held', async () => {
    await pool.refresh(push({ tenant_id: 'removes', version: 1 }));
    const outcome = await pool.refresh({
      ...push({ tenant_id: 'removes', version: 2 }),
      value: undefined,
      removed: true,
    });
    expect(outcome.response).toEqual({ held_version: 2, applied: true, key_status_before: 'SERVING' });
    expect(pool.held.value({ tenantId: 'removes', key: 'tenant_config_featureFlags' })).toBeUndefined();
  });

  test('of a rollback replaces the held candidate with the older version', async () => {
    await pool.refresh(push({ tenant_id: 'reverts', version: 1, value: '"one"' }));
    await pool.refresh(push({ tenant_id: 'reverts', version: 2, value: '"two"' }));
    const outcome = await pool.refresh(
      push({ tenant_id: 'reverts', version: 1, value: '"one"', revert_from: 2 }),
    );
    expect(outcome.response).toEqual({ held_version: 1, applied: true, key_status_before: 'SERVING' });
  });
});

test('a push answers how the key was served just before it, so a gate does not blame this change for it', async () => {
  pool.health.unhealthyTenant = 'sick-before';
  try {
    const outcome = await pool.refresh(push({ tenant_id: 'sick-before', version: 2 }));
    expect(outcome.response).toEqual({ held_version: 2, applied: true, key_status_before: 'NOT_SERVING' });
  } finally {
    pool.health.unhealthyTenant = undefined;
  }
});

describe('a silo instance', () => {
  test('refuses a push for another tenant with PERMISSION_DENIED naming tenant_id', async () => {
    const outcome = await silo.refresh(push({ tenant_id: 'globex' }));
    expect(outcome.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(outcome.errorField).toBe('tenant_id');
    expect(outcome.details).toMatch(/silo for tenant "acme"/);
    expect(silo.held.has({ tenantId: 'globex', key: 'tenant_config_featureFlags' })).toBe(false);
  });

  test('applies a push for its own tenant', async () => {
    expect((await silo.refresh(push())).response).toEqual({
      held_version: 1,
      applied: true,
      key_status_before: 'SERVING',
    });
  });
});

describe('a malformed push is refused with INVALID_ARGUMENT naming the field', () => {
  test.each<[string, Partial<PlainPush>, string]>([
    ['no tenant', { tenant_id: '' }, 'tenant_id'],
    ['a tenant id with a slash', { tenant_id: 'a/b' }, 'tenant_id'],
    ['no key', { key: '' }, 'key'],
    ['a key with ".."', { key: 'tenant_config_..x' }, 'key'],
    ['a malformed service', { service: '../orders' }, 'service'],
    ['a negative version', { version: -1 }, 'version'],
    ['a value at version 0', { version: 0 }, 'version'],
    ['an unknown format', { format: 'yaml' }, 'format'],
    ['revert_from not newer than the version', { version: 2, revert_from: 2 }, 'revert_from'],
  ])('%s', async (_name, overrides, field) => {
    const outcome = await pool.refresh(push(overrides));
    expect(outcome.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(outcome.errorField).toBe(field);
  });

  test('neither a sealed value nor removed', async () => {
    const [request, authorization] = controlPlane.refresh(pool.target, push());
    const outcome = await pool.caller.refresh({ ...request, sealed_value: undefined }, authorization);
    expect(outcome.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(outcome.errorField).toBe('sealed_value');
  });
});

describe('Health', () => {
  test('reports SERVING, the instance id and the held version of each key in request order (0: none)', async () => {
    await pool.refresh(push({ tenant_id: 'health', version: 4 }));
    await pool.refresh(
      push({
        tenant_id: 'health',
        key: 'param_config_apiEndpoint',
        service: 'orders',
        version: 9,
        value: 'x',
        format: 'text',
      }),
    );
    const flags = { tenantId: 'health', key: 'tenant_config_featureFlags' };
    pool.outcomes.record(flags, 4, 'ok');
    pool.outcomes.record(flags, 4, 'error');
    // Another tenant's outcomes for the same key are never answered to this one.
    pool.outcomes.record({ ...flags, tenantId: 'other' }, 4, 'error');
    const outcome = await pool.checkHealth([
      { tenantId: 'health', key: 'param_config_apiEndpoint', service: 'orders' },
      { tenantId: 'health', key: 'tenant_config_never' },
      flags,
    ]);
    expect(outcome.response).toEqual({
      status: 'SERVING',
      instance_id: 'pool-instance',
      held_versions: [9, 0, 4],
      key_statuses: ['SERVING', 'SERVING', 'SERVING'],
      key_outcomes: [
        { version: 9, requests: 0, errors: 0 },
        { version: 0, requests: 0, errors: 0 },
        { version: 4, requests: 2, errors: 1 },
      ],
    });
  });

  test('reports each key’s own status: one tenant’s broken key leaves another tenant’s SERVING', async () => {
    pool.health.unhealthyTenant = 'broken-tenant';
    try {
      const outcome = await pool.checkHealth([
        { tenantId: 'broken-tenant', key: 'tenant_config_featureFlags' },
        { tenantId: 'fine-tenant', key: 'tenant_config_featureFlags' },
      ]);
      expect(outcome.response?.key_statuses).toEqual(['NOT_SERVING', 'SERVING']);
    } finally {
      pool.health.unhealthyTenant = undefined;
    }
  });

  test('reports NOT_SERVING when the instance says it is unhealthy', async () => {
    silo.health.status = 'NOT_SERVING';
    try {
      expect((await silo.checkHealth([])).response?.status).toBe('NOT_SERVING');
    } finally {
      silo.health.status = 'SERVING';
    }
  });

  test('names the malformed key among several', async () => {
    const outcome = await pool.checkHealth([
      { tenantId: 'acme', key: 'tenant_config_ok' },
      { tenantId: 'acme', key: '' },
    ]);
    expect(outcome.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(outcome.errorField).toBe('keys[1].key');
  });
});
