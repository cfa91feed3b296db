import * as grpc from '@grpc/grpc-js';
import {
  DeregisterInstanceCommand,
  DiscoverInstancesCommand,
  RegisterInstanceCommand,
  type ServiceDiscoveryClient,
} from '@aws-sdk/client-servicediscovery';
import type { Client } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { destroyAwsClients, type AwsClients } from '../../activities/awsClients';
import { ensureService } from '../../common/cloudMapSetup';
import { INSTANCE_ATTRIBUTES, type Tenancy } from '../../common/cloudMap';
import { FleetTooLargeError } from '../../common/errors';
import { createLogger } from '../../common/logger';
import { type RolloutPlan, type RolloutRequest } from '../../common/rollout';
import { SealedValueError, generateSealingKeys } from '../../common/sealedValue';
import { PUSH_SESSION_METADATA } from '../../common/pushSession';
import { sealingContext } from '../../common/pushGrant';
import { loadRolloutWorkerSettings } from '../../common/settings';
import type { CacheRefreshHandlers } from '../../gen/proto/configsvc/v1/CacheRefresh';
import type { RefreshRequest__Output } from '../../gen/proto/configsvc/v1/RefreshRequest';
import { ConfigReaderClient } from '../../sdk/configReaderClient';
import { ConfigServiceError } from '../../sdk/errors';
import { type RefreshServer, startRefreshServer } from '../../sdk/refreshServer';
import { startRollout } from '../../rolloutClient';
import { createDiscovery } from '../../server/rolloutWorker';
import { stackClients, uniqueTenant } from '../support/env';
import { type FleetMember, startInstance } from '../support/fleet';
import { grantFor } from '../support/instanceGrants';
import {
  openAsInstance,
  type PushCredentials,
  RefreshCaller,
  TestControlPlane,
  targetOf,
} from '../support/refreshCaller';
import { startTestServer, type TestServer } from '../support/server';
import { validToken } from '../support/tokens';

/**
 * The push path attacked as the issue reproduced it, against the real stack: the Temporal dev server,
 * the rollout worker's real activities, Cloud Map on moto, real SDK instances, and attackers who hold a
 * silo instance of one tenant, or can call Cloud Map's RegisterInstance.
 */
const KEY = 'tenant_config_featureFlags';
const SECRET = '{"apiKey":"tenant-a-secret-4f1c"}';

let server: TestServer;
let clients: AwsClients;
let temporal: Client;
let taskQueue: string;
const instances: FleetMember[] = [];
const rogues: RefreshServer[] = [];

beforeAll(async () => {
  server = await startTestServer({ rollouts: true });
  clients = stackClients();
  temporal = server.temporal!;
  taskQueue = server.taskQueue!;
}, 120_000);

afterAll(async () => {
  await Promise.all(instances.map((instance) => instance.client.stop()));
  await Promise.all(rogues.map((rogue) => rogue.stop()));
  destroyAwsClients(clients);
  await server.stop();
});

const plan: RolloutPlan = {
  strategy: { kind: 'explicit', waves: ['100%'] },
  bakeSeconds: 0,
  approval: 'none',
  maxFailures: 0,
  push: { timeoutMs: 1000, attempts: 2, concurrency: 8 },
};

/** Tenants A and B, each with a live value, a silo instance each and one pooled instance, in one service. */
async function setUp() {
  const [a, b] = [uniqueTenant('a'), uniqueTenant('b')];
  const service = `orders-${randomUUID().slice(0, 6)}`;
  for (const tenantId of [a, b]) {
    await server.store.put({ tenantId, key: KEY }, '{"beta":false}', { expectedVersion: 0, makeLive: true });
  }
  const start = async (tenancy: string, preload: string[]) => {
    const member = await startInstance({
      server,
      clients,
      service,
      tenancy,
      preload: preload.map((tenantId) => ({ tenantId, key: KEY })),
    });
    instances.push(member);
    return member;
  };
  const siloA = await start(a, [a]);
  const siloB = await start(b, [b]);
  const pool = await start('pool', [a, b]);
  const request = (tenantId: string, value: string): RolloutRequest => ({
    tenantId,
    key: KEY,
    change: { kind: 'set', value },
    targetServices: [service],
    plan,
    actor: `release-manager@${tenantId}`,
  });
  return { a, b, service, siloA, siloB, pool, request };
}

interface Captured {
  readonly credentials: Required<PushCredentials>;
  readonly request: RefreshRequest__Output;
}

/**
 * An attacker's CacheRefresh server: records every call it gets and answers as an instance that applied
 * it, so the rollout goes on. It holds sealing keys of its own.
 */
async function startRogue() {
  const captured: Captured[] = [];
  const sealingKeys = generateSealingKeys();
  const handlers: CacheRefreshHandlers = {
    Refresh: (call, callback) => {
      captured.push({
        credentials: {
          authorization: String(call.metadata.get('authorization')[0] ?? ''),
          session: String(call.metadata.get(PUSH_SESSION_METADATA)[0] ?? ''),
        },
        request: call.request,
      });
      callback(null, { held_version: call.request.version, applied: true });
    },
    Health: (call, callback) =>
      callback(null, {
        status: 'SERVING',
        instance_id: 'rogue',
        held_versions: call.request.keys.map(() => Math.max(0, ...captured.map((c) => c.request.version))),
      }),
  };
  const server = await startRefreshServer(handlers, { host: '127.0.0.1', port: 0 });
  rogues.push(server);
  return { server, captured, sealingKeys };
}

async function register(
  serviceDiscovery: ServiceDiscoveryClient,
  service: string,
  instanceId: string,
  attributes: Record<string, string>,
): Promise<() => Promise<void>> {
  const serviceId = await ensureService(
    serviceDiscovery,
    loadRolloutWorkerSettings().cloudMapNamespace,
    service,
  );
  await serviceDiscovery.send(
    new RegisterInstanceCommand({ ServiceId: serviceId, InstanceId: instanceId, Attributes: attributes }),
  );
  return async () => {
    await serviceDiscovery.send(
      new DeregisterInstanceCommand({ ServiceId: serviceId, InstanceId: instanceId }),
    );
  };
}

const registration = (
  port: number,
  tenancy: Tenancy,
  extra: Record<string, string> = {},
): Record<string, string> => ({
  [INSTANCE_ATTRIBUTES.ipv4]: '127.0.0.1',
  [INSTANCE_ATTRIBUTES.port]: String(port),
  [INSTANCE_ATTRIBUTES.tenancy]: tenancy,
  ...extra,
});

describe('a push grant captured by an instance authorises nothing else', () => {
  test('a silo instance of tenant A replays what it received: to B’s silo, with B’s tenant, its own value and version 900000000; to another of A’s instances; and to itself again', async () => {
    const { a, b, service, siloA, siloB, request } = await setUp();
    // Tenant A's own, legitimately granted silo instance, turned hostile: it keeps every call it gets.
    const rogue = await startRogue();
    const reader = new ConfigReaderClient(server.grpcAddress, () => Promise.resolve(''));
    const { grant } = await reader.issueInstanceGrant(
      { service, tenancy: 'silo', sealingKey: rogue.sealingKeys.publicKey },
      validToken({ tenantId: a, groups: ['services'] }),
    );
    reader.close();
    const deregister = await register(
      clients.serviceDiscovery,
      service,
      'a-hostile',
      registration(rogue.server.port, 'silo', {
        [INSTANCE_ATTRIBUTES.tenant]: a,
        [INSTANCE_ATTRIBUTES.grant]: grant,
      }),
    );
    try {
      const result = await (await startRollout(temporal, request(a, SECRET), taskQueue)).result();
      expect(result.state).toBe('SUCCEEDED');
    } finally {
      await deregister();
    }
    const [stolen] = rogue.captured;
    expect(stolen).toBeDefined();
    // Sealed to the hostile instance's own key: it can read its own tenant's value, as it may.
    const version = stolen!.request.version;
    const plane = TestControlPlane.ofStack();
    expect(
      openAsInstance(plane.publicKeyPem, rogue.sealingKeys, {
        session: stolen!.credentials.session,
        sealed: stolen!.request.sealed_value!,
        context: sealingContext({ tenantId: a, key: KEY, version }),
      }),
    ).toBe(SECRET);

    const forged = (target: ReturnType<typeof targetOf>, tenantId: string) =>
      plane.refresh(target, {
        tenant_id: tenantId,
        key: KEY,
        version: 900_000_000,
        value: '{"pwned":true}',
      })[0];
    const attempts = [
      // To B's silo, as B, with a value and version of its choosing.
      { member: siloB, request: forged(targetOf(siloB.client, service), b), tenant: b },
      // To B's silo, exactly as captured.
      { member: siloB, request: stolen!.request, tenant: b },
      // To another of A's instances, as captured and altered.
      { member: siloA, request: stolen!.request, tenant: a },
      { member: siloA, request: forged(targetOf(siloA.client, service), a), tenant: a },
    ];
    for (const attempt of attempts) {
      const caller = new RefreshCaller(`127.0.0.1:${attempt.member.client.refreshPort}`);
      const outcome = await caller.refresh(attempt.request, stolen!.credentials);
      caller.close();
      // The session certificate is the control plane's and current, but the grant's MAC key is the one
      // the worker shares with the hostile instance alone: no other instance's key checks it.
      expect(outcome.code).toBe(grpc.status.UNAUTHENTICATED);
      expect(outcome.details).toMatch(/push grant refused: invalid signature/);
    }
    expect((await siloB.client.get(b, KEY))?.version).toBe(1);
    expect((await siloA.client.get(a, KEY))?.version).toBe(version);
  });

  test('at the instance it was for, a grant works once, for exactly its call, and not after it expires', async () => {
    const { a, service, siloA } = await setUp();
    const plane = TestControlPlane.ofStack();
    const target = targetOf(siloA.client, service);
    const caller = new RefreshCaller(target.address);
    const push = { tenant_id: a, key: KEY, version: 7, value: '{"v":7}' };
    const [request, authorization] = plane.refresh(target, push);

    expect((await caller.refresh(request, authorization)).response).toEqual({
      held_version: 7,
      applied: true,
      key_status_before: 'SERVING',
    });
    const replayed = await caller.refresh(request, authorization);
    expect(replayed.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(replayed.details).toMatch(/it was used before/);

    const mismatches: [string, Parameters<TestControlPlane['refresh']>[1], RegExp][] = [
      ['a higher version', { ...push, version: 900_000_000 }, /this version/],
      ['another value', { ...push, version: 8, value: '{"pwned":true}' }, /this value/],
      ['a removal', { ...push, version: 8, value: undefined, removed: true }, /this removal/],
      ['a rollback', { ...push, version: 8, revert_from: 9 }, /this revert_from/],
    ];
    for (const [name, altered, reason] of mismatches) {
      // The grant names version 8 and the first value; the call asks for something else.
      const [, grantFor8] = plane.refresh(target, { ...push, version: 8 });
      const [alteredRequest] = plane.refresh(target, altered);
      const outcome = await caller.refresh(alteredRequest, grantFor8);
      expect({ name, code: outcome.code }).toEqual({ name, code: grpc.status.UNAUTHENTICATED });
      expect(outcome.details).toMatch(reason);
    }

    const [late, expired] = plane.refresh(
      target,
      { ...push, version: 9 },
      { nowSeconds: Math.floor(Date.now() / 1000) - 60 },
    );
    const outcome = await caller.refresh(late, expired);
    expect(outcome.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(outcome.details).toMatch(/expired/);
    caller.close();
    expect((await siloA.client.get(a, KEY))?.version).toBe(7);
  });
});

describe('Cloud Map registrations are not trusted blindly', () => {
  test('a registration claiming the pool without a grant, with a silo grant, or with a copied pool grant at its own address never receives a readable value', async () => {
    const { a, service, pool, request } = await setUp();
    const noGrant = await startRogue();
    const siloGrant = await startRogue();
    const copiedGrant = await startRogue();
    const otherTenant = await startRogue();
    // A pooled instance's grant is in Cloud Map for anyone who can discover: copy it.
    const poolGrant = (
      await createDiscovery(clients, loadRolloutWorkerSettings(), createLogger({}, 'error')).instancesServing(
        a,
        [service],
      )
    ).find((instance) => instance.instanceId === pool.client.instanceId);
    expect(poolGrant?.sealingKey).toBe(pool.client.sealingKey);
    const copied = await registeredGrantOf(clients.serviceDiscovery, service, pool.client.instanceId);

    const undo = [
      await register(
        clients.serviceDiscovery,
        service,
        'x-no-grant',
        registration(noGrant.server.port, 'pool'),
      ),
      await register(
        clients.serviceDiscovery,
        service,
        'x-silo-grant',
        registration(siloGrant.server.port, 'pool', {
          [INSTANCE_ATTRIBUTES.grant]: grantFor({ service, tenancy: 'silo', tenantId: a }).token,
        }),
      ),
      await register(
        clients.serviceDiscovery,
        service,
        'x-copied-pool-grant',
        registration(copiedGrant.server.port, 'pool', { [INSTANCE_ATTRIBUTES.grant]: copied }),
      ),
      // A silo for tenant A, holding a grant that tenant B's services token obtained.
      await register(
        clients.serviceDiscovery,
        service,
        'x-other-tenant',
        registration(otherTenant.server.port, 'silo', {
          [INSTANCE_ATTRIBUTES.tenant]: a,
          [INSTANCE_ATTRIBUTES.grant]: grantFor({ service, tenancy: 'silo', tenantId: `${a}-other` }).token,
        }),
      ),
    ];
    try {
      const result = await (await startRollout(temporal, request(a, SECRET), taskQueue)).result();
      expect(result.state).toBe('SUCCEEDED');
    } finally {
      for (const deregister of undo) await deregister();
    }
    expect(noGrant.captured).toEqual([]);
    expect(siloGrant.captured).toEqual([]);
    expect(otherTenant.captured).toEqual([]);
    // The copied grant is valid, so the worker pushes there, but sealed to the real pooled instance's key:
    // the attacker, holding no private key of that instance, reads nothing.
    expect(copiedGrant.captured.length).toBeGreaterThan(0);
    const plane = TestControlPlane.ofStack();
    for (const { request: call, credentials } of copiedGrant.captured) {
      expect(Buffer.from(call.sealed_value!).toString('utf8')).not.toContain('tenant-a-secret');
      expect(() =>
        openAsInstance(plane.publicKeyPem, copiedGrant.sealingKeys, {
          session: credentials.session,
          sealed: call.sealed_value!,
          context: sealingContext({ tenantId: a, key: KEY, version: call.version }),
        }),
      ).toThrow(SealedValueError);
    }
    expect((await pool.client.get(a, KEY))?.value).toBe(SECRET);
  });

  test('discovery never aims the worker at a non-IPv4 address, an address outside the allowed networks or a port outside the allowed ones', async () => {
    const service = `aim-${randomUUID().slice(0, 6)}`;
    const decoy = await startRogue();
    const grant = grantFor({ service, tenancy: 'pool' }).token;
    const aimed: [string, Record<string, string>][] = [
      ['x-hostname', { ...registration(decoy.server.port, 'pool'), [INSTANCE_ATTRIBUTES.ipv4]: 'localhost' }],
      [
        'x-userinfo',
        { ...registration(decoy.server.port, 'pool'), [INSTANCE_ATTRIBUTES.ipv4]: '127.0.0.1@10.0.0.1' },
      ],
      [
        'x-outside',
        { ...registration(decoy.server.port, 'pool'), [INSTANCE_ATTRIBUTES.ipv4]: '169.254.169.254' },
      ],
      ['x-port-text', { ...registration(decoy.server.port, 'pool'), [INSTANCE_ATTRIBUTES.port]: '80;rm' }],
      ['x-allowed', registration(decoy.server.port, 'pool')],
    ];
    const undo = [];
    for (const [id, attributes] of aimed) {
      undo.push(
        await register(clients.serviceDiscovery, service, id, {
          ...attributes,
          [INSTANCE_ATTRIBUTES.grant]: grant,
        }),
      );
    }
    try {
      const settings = loadRolloutWorkerSettings();
      const logger = createLogger({}, 'error');
      const found = await createDiscovery(clients, settings, logger).instancesServing('any', [service]);
      expect(found.map((instance) => instance.instanceId)).toEqual(['x-allowed']);
      // The same registration on a port outside a narrower allowed range is left out too.
      const narrow = { ...settings, allowedPorts: [{ from: 1024, to: 1024 }] };
      expect(await createDiscovery(clients, narrow, logger).instancesServing('any', [service])).toEqual([]);
    } finally {
      for (const deregister of undo) await deregister();
    }
  });

  test('a flood of registrations is refused with a clear error, not a payload Temporal cannot carry', async () => {
    const service = `flood-${randomUUID().slice(0, 6)}`;
    const undo = [];
    for (let i = 0; i < 6; i += 1) {
      undo.push(
        await register(
          clients.serviceDiscovery,
          service,
          `flood-${i}`,
          registration(40_000 + i, 'pool', {
            [INSTANCE_ATTRIBUTES.grant]: grantFor({ service, tenancy: 'pool' }).token,
          }),
        ),
      );
    }
    try {
      const capped = { ...loadRolloutWorkerSettings(), maxInstancesPerRollout: 5 };
      const discovery = createDiscovery(clients, capped, createLogger({}, 'error'));
      const refusal = await discovery.instancesServing('any', [service]).catch((error: unknown) => error);
      expect(refusal).toBeInstanceOf(FleetTooLargeError);
      expect((refusal as Error).message).toMatch(/more than 5 instances .*MAX_INSTANCES_PER_ROLLOUT/);
    } finally {
      for (const deregister of undo) await deregister();
    }
  });
});

describe('instance grants are issued only for what the caller’s token proves', () => {
  const sealingKey = generateSealingKeys().publicKey;
  const ask = async (token: string, tenancy: string, key = sealingKey) => {
    const reader = new ConfigReaderClient(server.grpcAddress, () => Promise.resolve(''));
    try {
      return await reader.issueInstanceGrant(
        { service: 'orders', tenancy: tenancy as Tenancy, sealingKey: key },
        token,
      );
    } catch (error) {
      return error as ConfigServiceError;
    } finally {
      reader.close();
    }
  };

  test('a tenant’s services token cannot get a pool grant, which would receive every tenant’s values', async () => {
    const refused = await ask(validToken({ tenantId: 'acme', groups: ['services'] }), 'pool');
    expect(refused).toBeInstanceOf(ConfigServiceError);
    expect((refused as ConfigServiceError).status).toBe(grpc.status.PERMISSION_DENIED);
    expect((refused as ConfigServiceError).field).toBe('tenancy');
  });

  test('a silo grant names the token’s own tenant, and release managers and operators get none', async () => {
    const granted = await ask(validToken({ tenantId: 'acme', groups: ['services'] }), 'silo');
    expect(granted).not.toBeInstanceOf(Error);
    const [, payload] = (granted as { grant: string }).grant.split('.');
    expect(JSON.parse(Buffer.from(payload!, 'base64url').toString())).toMatchObject({
      tny: 'silo',
      ten: 'acme',
    });
    for (const groups of [['release-managers'], ['operators']] as const) {
      const refused = await ask(validToken({ tenantId: 'acme', groups: [...groups] }), 'silo');
      expect((refused as ConfigServiceError).status).toBe(grpc.status.PERMISSION_DENIED);
    }
  });

  test('a malformed sealing key is refused naming sealing_key', async () => {
    const refused = await ask(validToken({ tenantId: 'acme', groups: ['services'] }), 'silo', 'c2hvcnQ');
    expect((refused as ConfigServiceError).status).toBe(grpc.status.INVALID_ARGUMENT);
    expect((refused as ConfigServiceError).field).toBe('sealing_key');
  });
});

async function registeredGrantOf(
  serviceDiscovery: ServiceDiscoveryClient,
  service: string,
  instanceId: string,
): Promise<string> {
  const { Instances } = await serviceDiscovery.send(
    new DiscoverInstancesCommand({
      NamespaceName: loadRolloutWorkerSettings().cloudMapNamespace,
      ServiceName: service,
    }),
  );
  const grant = Instances?.find((instance) => instance.InstanceId === instanceId)?.Attributes?.grant;
  if (!grant) throw new Error(`${instanceId} registered no grant`);
  return grant;
}
