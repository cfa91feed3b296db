import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import type { ConfigStore } from '../../activities/storage/configStore';
import type { ConfigAddress } from '../../common/configAddress';
import { loadProto } from '../../common/proto';
import type { ProtoGrpcType } from '../../gen/proto/config';
import type { ConfigServiceClient } from '../../gen/proto/configsvc/v1/ConfigService';
import { readServerSentEvents } from '../../cli/sse';
import { stackClients, uniqueTenant } from '../support/env';
import { type FleetMember, startInstance } from '../support/fleet';
import { callApi } from '../support/restApi';
import { startTestServer, type TestServer, type TestServerOptions } from '../support/server';
import { devTokenClaims, ensureIssuerKeys, signJwt } from '../../scripts/stack/localIssuer';
import { validToken } from '../support/tokens';

/**
 * Abuse of the read path, against the real config service (moto stores, the local issuer's tokens):
 * each attack as a tenant's own caller could mount it, and the bound that now refuses it.
 */
const FLAGS = 'tenant_config_featureFlags';
const FOUR_MB = 4 * 1024 * 1024 - 1024; // just under gRPC's default 4 MiB message limit

const { proto } = loadProto<ProtoGrpcType>('config.proto');
const started: { server: TestServer; grpc: ConfigServiceClient }[] = [];

async function serve(options: TestServerOptions = {}) {
  const server = await startTestServer(options);
  const client = new proto.configsvc.v1.ConfigService(server.grpcAddress, grpc.credentials.createInsecure());
  started.push({ server, grpc: client });
  return { server, grpc: client };
}

/** One config service with rollouts for every test that needs them, with small stream and rollout quotas. */
const QUOTAS = { STREAMS_PER_IDENTITY: '1', STREAMS_PER_TENANT: '2', RUNNING_ROLLOUTS_PER_TENANT: '2' };
let withRollouts: Promise<TestServer> | undefined;
const rolloutServer = () =>
  (withRollouts ??= serve({ rollouts: true, env: QUOTAS }).then(({ server }) => server));

afterAll(async () => {
  for (const { server, grpc: client } of started) {
    client.close();
    await server.stop();
  }
});

interface GrpcOutcome {
  readonly code: grpc.status;
  readonly details?: string;
  readonly trailers?: grpc.Metadata;
}

function getConfig(
  client: ConfigServiceClient,
  token: string,
  request: { key: string; service?: string },
): Promise<GrpcOutcome> {
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${token}`);
  return new Promise((resolve) => {
    client.GetConfig(request, metadata, (error) =>
      resolve(
        error
          ? { code: error.code, details: error.details, trailers: error.metadata }
          : { code: grpc.status.OK },
      ),
    );
  });
}

/** Counts the config service's live reads that reach the real store. */
function countingStore(reads: ConfigAddress[]) {
  return (store: ConfigStore): ConfigStore =>
    new Proxy(store, {
      get(target, property) {
        if (property === 'getLive') {
          return (address: ConfigAddress) => {
            reads.push(address);
            return target.getLive(address);
          };
        }
        const member: unknown = Reflect.get(target, property, target);
        return typeof member === 'function'
          ? (member as (...args: unknown[]) => unknown).bind(target)
          : member;
      },
    });
}

/**
 * A config service whose live reads are counted (`reads`) on their way to the real store, and a tenant
 * of its own; set up before the describe's tests run.
 */
function servedTenant(label: string, env: Record<string, string> = {}) {
  const ctx = {
    reads: [] as ConfigAddress[],
    tenant: uniqueTenant(label),
    serviceToken: () => validToken({ tenantId: ctx.tenant, groups: ['services'] }),
  } as {
    readonly reads: ConfigAddress[];
    readonly tenant: string;
    readonly serviceToken: () => string;
    server: TestServer;
    grpc: ConfigServiceClient;
  };
  beforeAll(async () => {
    Object.assign(ctx, await serve({ env, wrapStore: countingStore(ctx.reads) }));
  });
  return ctx;
}

describe('every config address is checked before it reaches the cache', () => {
  const ctx = servedTenant('addr');

  beforeAll(async () => {
    await ctx.server.store.put({ tenantId: ctx.tenant, key: FLAGS }, '{"beta":true}', {
      expectedVersion: 0,
      makeLive: true,
    });
  });

  test('gRPC: a 4 MB service with a tenant-wide key is INVALID_ARGUMENT naming service, and nothing is cached', async () => {
    const before = { size: ctx.server.reader.size, bytes: ctx.server.reader.bytes, reads: ctx.reads.length };
    for (let i = 0; i < 5; i += 1) {
      const outcome = await getConfig(ctx.grpc, ctx.serviceToken(), {
        key: FLAGS,
        service: `${i}${'s'.repeat(FOUR_MB)}`,
      });
      expect(outcome.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(outcome.trailers?.get('error-field')).toEqual(['service']);
      expect(outcome.details!.length).toBeLessThan(300);
    }
    expect({ size: ctx.server.reader.size, bytes: ctx.server.reader.bytes, reads: ctx.reads.length }).toEqual(
      before,
    );
  });

  test('gRPC: a valid service with a tenant-wide key is refused too, so one key has one cache slot', async () => {
    const outcome = await getConfig(ctx.grpc, ctx.serviceToken(), { key: FLAGS, service: 'orders' });
    expect(outcome.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(outcome.details).toMatch(/tenant-wide/);
    expect(outcome.trailers?.get('error-field')).toEqual(['service']);
  });

  test('gRPC: a 4 MB key is INVALID_ARGUMENT naming key', async () => {
    const outcome = await getConfig(ctx.grpc, ctx.serviceToken(), {
      key: `tenant_config_${'k'.repeat(FOUR_MB)}`,
    });
    expect(outcome.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(outcome.trailers?.get('error-field')).toEqual(['key']);
  });

  test('REST: a service with a tenant-wide key, or an overlong one, is 400 naming service', async () => {
    for (const service of ['orders', 's'.repeat(8000)]) {
      const answer = await callApi(
        ctx.server.httpUrl,
        'GET',
        `/v1/configs/${FLAGS}?service=${service}`,
        ctx.serviceToken(),
      );
      expect(answer.status).toBe(400);
      expect(answer.headers.get('content-type')).toMatch(/application\/problem\+json/);
      expect(answer.body.field).toBe('service');
    }
  });

  test('REST: a 4 MB service never reaches a handler (the HTTP parser refuses the request line)', async () => {
    const response = await fetch(`${ctx.server.httpUrl}/v1/configs/${FLAGS}?service=${'s'.repeat(FOUR_MB)}`, {
      headers: { authorization: `Bearer ${ctx.serviceToken()}` },
    });
    expect(response.status).toBe(431);
  });

  test('rollout start: a service with a tenant-wide key is 400 naming service', async () => {
    const answer = await callApi(
      (await rolloutServer()).httpUrl,
      'POST',
      '/v1/rollouts',
      validToken({ tenantId: ctx.tenant, groups: ['release-managers'] }),
      { key: FLAGS, service: 'orders', value: '{"beta":false}', targetServices: ['orders'] },
    );
    expect(answer.status).toBe(400);
    expect(answer.body.field).toBe('service');
  });

  test('schemas: an overlong key is 400 naming key', async () => {
    const answer = await callApi(
      ctx.server.httpUrl,
      'GET',
      `/v1/schemas/tenant_config_${'k'.repeat(4000)}`,
      ctx.serviceToken(),
    );
    expect(answer.status).toBe(400);
    expect(answer.body.field).toBe('key');
  });
});

describe('the read cache is bounded by bytes, and remembers missing keys briefly', () => {
  const MAX_BYTES = 256 * 1024;
  // Long TTLs, so nothing leaves the cache by expiry while the test runs: only the bounds evict.
  const ctx = servedTenant('bytes', {
    CONFIG_CACHE_TTL_MS: '60000',
    CONFIG_CACHE_MAX_BYTES: String(MAX_BYTES),
    CONFIG_CACHE_NEGATIVE_TTL_MS: '60000',
  });

  test('many large distinct reads leave the cache under its byte bound', async () => {
    const value = JSON.stringify({ blob: 'x'.repeat(40_000) });
    const keys = Array.from({ length: 20 }, (_, n) => `tenant_config_large${n}`);
    for (const key of keys) {
      await ctx.server.store.put({ tenantId: ctx.tenant, key }, value, {
        expectedVersion: 0,
        makeLive: true,
      });
    }
    for (const key of keys) {
      expect((await getConfig(ctx.grpc, ctx.serviceToken(), { key })).code).toBe(grpc.status.OK);
      expect(ctx.server.reader.bytes).toBeLessThanOrEqual(MAX_BYTES);
    }
    // 20 values of 80 KB as held: far more than the bound, so most were evicted.
    expect(ctx.server.reader.bytes).toBeGreaterThan(MAX_BYTES / 2);
    expect(ctx.server.reader.size).toBeLessThan(keys.length / 2);
  });

  test('repeated reads of a missing key reach the store once per negative TTL', async () => {
    const key = 'tenant_config_neverWritten';
    const before = ctx.reads.filter((address) => address.key === key).length;
    for (let i = 0; i < 50; i += 1) {
      const outcome = await getConfig(ctx.grpc, ctx.serviceToken(), { key });
      expect(outcome.code).toBe(grpc.status.NOT_FOUND);
    }
    expect(ctx.reads.filter((address) => address.key === key).length - before).toBe(1);
  });
});

describe('requests are rate limited per identity and per tenant', () => {
  let server: TestServer;
  let client: ConfigServiceClient;

  beforeAll(async () => {
    ({ server, grpc: client } = await serve({
      env: {
        RATE_LIMIT_IDENTITY_PER_SECOND: '1',
        RATE_LIMIT_IDENTITY_BURST: '3',
        RATE_LIMIT_TENANT_PER_SECOND: '1',
        RATE_LIMIT_TENANT_BURST: '8',
      },
    }));
  });

  /** Calls until one is refused; a handful past the burst is always enough, however slow the machine. */
  async function untilRefused<T>(call: (attempt: number) => Promise<T>, refused: (outcome: T) => boolean) {
    for (let attempt = 0; attempt < 40; attempt += 1) {
      const outcome = await call(attempt);
      if (refused(outcome)) return { outcome, attempt };
    }
    throw new Error('never refused');
  }

  test('REST: one identity past its burst gets 429, Retry-After and a problem naming identity-rate', async () => {
    const token = validToken({ tenantId: uniqueTenant('rate'), groups: ['operators'], subject: 'spinner' });
    const { outcome, attempt } = await untilRefused(
      () => callApi(server.httpUrl, 'GET', `/v1/configs/${FLAGS}`, token),
      (answer) => answer.status === 429,
    );
    expect(attempt).toBeGreaterThanOrEqual(3);
    expect(outcome.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(Number(outcome.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(outcome.body).toMatchObject({ title: 'LimitExceeded', status: 429, limit: 'identity-rate' });
  });

  test('gRPC: one identity past its burst gets RESOURCE_EXHAUSTED naming identity-rate', async () => {
    const token = validToken({ tenantId: uniqueTenant('rate'), groups: ['services'], subject: 'spinner' });
    const { outcome } = await untilRefused(
      () => getConfig(client, token, { key: FLAGS }),
      (answer) => answer.code === grpc.status.RESOURCE_EXHAUSTED,
    );
    expect(outcome.details).toMatch(/identity-rate/);
    expect(outcome.trailers?.get('error-limit')).toEqual(['identity-rate']);
    expect(Number(outcome.trailers?.get('retry-after')[0])).toBeGreaterThanOrEqual(1);
  });

  test('many identities of one tenant meet the tenant limit, and another tenant is still served', async () => {
    const tenant = uniqueTenant('rate');
    const { outcome } = await untilRefused(
      (attempt) =>
        callApi(
          server.httpUrl,
          'GET',
          `/v1/configs/${FLAGS}`,
          validToken({ tenantId: tenant, groups: ['operators'], subject: `caller-${attempt}` }),
        ),
      (answer) => answer.status === 429,
    );
    expect(outcome.body.limit).toBe('tenant-rate');
    const other = validToken({ tenantId: uniqueTenant('calm'), groups: ['operators'] });
    expect((await callApi(server.httpUrl, 'GET', `/v1/configs/${FLAGS}`, other)).status).toBe(404);
  });
});

describe('streams and running rollouts have quotas', () => {
  let server: TestServer;
  let tenant: string;
  let instance: FleetMember;
  const clients = stackClients();
  const service = `quota-${Math.random().toString(36).slice(2, 8)}`;
  const keys = ['tenant_config_q1', 'tenant_config_q2', 'tenant_config_q3', 'tenant_config_q4'];
  const started: string[] = [];
  const releaseManager = (subject = 'rm') =>
    validToken({ tenantId: tenant, groups: ['release-managers'], subject });
  const startRollout = (key: string) =>
    callApi(server.httpUrl, 'POST', '/v1/rollouts', releaseManager(), {
      key,
      value: '{"v":2}',
      targetServices: [service],
      // Its one instance updated, each rollout bakes for ten minutes: running until aborted.
      plan: { bakeSeconds: 600 },
    });

  beforeAll(async () => {
    server = await rolloutServer();
    tenant = uniqueTenant('quota');
    for (const key of keys) {
      await server.store.put({ tenantId: tenant, key }, '{"v":1}', { expectedVersion: 0, makeLive: true });
    }
    instance = await startInstance({
      server,
      clients,
      service,
      tenancy: tenant,
      preload: keys.map((key) => ({ tenantId: tenant, key })),
    });
  }, 120_000);

  afterAll(async () => {
    for (const rolloutId of started) {
      await callApi(server.httpUrl, 'POST', `/v1/rollouts/${rolloutId}/abort`, releaseManager());
    }
    await instance.client.stop();
  });

  test('concurrent starts past the tenant quota: as many start as the quota allows, the rest get 429', async () => {
    const answers = await Promise.all(keys.map(startRollout));
    started.push(...answers.filter((a) => a.status === 202).map((a) => a.body.rolloutId as string));
    expect(answers.map((a) => a.status).sort()).toEqual([202, 202, 429, 429]);
    const refused = answers.find((a) => a.status === 429)!;
    expect(refused.body).toMatchObject({ title: 'LimitExceeded', limit: 'tenant-rollouts' });
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });

  test('an identity past its open streams gets 429 naming identity-streams; closing one frees it', async () => {
    const rolloutId = started[0]!;
    const operator = validToken({ tenantId: tenant, groups: ['operators'], subject: 'watcher' });
    const open = () => {
      const abort = new AbortController();
      const response = fetch(`${server.httpUrl}/v1/rollouts/${rolloutId}/events`, {
        headers: { authorization: `Bearer ${operator}` },
        signal: abort.signal,
      });
      return { response, abort };
    };
    const first = open();
    expect((await first.response).status).toBe(200);
    const second = await callApi(server.httpUrl, 'GET', `/v1/rollouts/${rolloutId}/events`, operator);
    expect(second.status).toBe(429);
    expect(second.body.limit).toBe('identity-streams');

    first.abort.abort();
    let reopened: Response | undefined;
    for (let attempt = 0; attempt < 50 && reopened?.status !== 200; attempt += 1) {
      await sleep(200);
      const next = open();
      reopened = await next.response;
      next.abort.abort();
    }
    expect(reopened?.status).toBe(200);
  });

  test('a services token (on every instance) reads config but no rollout, history or stream', async () => {
    const serviceToken = validToken({ tenantId: tenant, groups: ['services'] });
    const rolloutId = started[0]!;
    for (const path of [
      '/v1/rollouts',
      `/v1/rollouts/${rolloutId}`,
      `/v1/rollouts/${rolloutId}/history`,
      `/v1/rollouts/${rolloutId}/events`,
    ]) {
      const answer = await callApi(server.httpUrl, 'GET', path, serviceToken);
      expect({ path, status: answer.status, title: answer.body.title }).toEqual({
        path,
        status: 403,
        title: 'PermissionDenied',
      });
    }
    expect((await callApi(server.httpUrl, 'GET', `/v1/configs/${keys[0]}`, serviceToken)).status).toBe(200);
  });

  test('a stream ends when the token that opened it expires, with a last event saying why', async () => {
    const shortLived = validToken({
      tenantId: tenant,
      groups: ['operators'],
      subject: 'short-lived',
      ttlSeconds: 3,
    });
    const response = await fetch(`${server.httpUrl}/v1/rollouts/${started[0]!}/events`, {
      headers: { authorization: `Bearer ${shortLived}` },
    });
    expect(response.status).toBe(200);
    const events: { type: string; data: string }[] = [];
    // The rollout bakes for ten minutes: only the token's expiry can end this stream within the test.
    for await (const event of readServerSentEvents(response.body!)) events.push(event);
    const last = events.at(-1)!;
    expect(events[0]?.type).toBe('progress');
    expect(last.type).toBe('error');
    const reason = JSON.parse(last.data) as { code?: string; detail?: string };
    expect(reason.code).toBe('Unauthenticated');
    expect(reason.detail).toMatch(/expired/);
  });
});

describe('a token issued in the future is refused', () => {
  let server: TestServer;
  let client: ConfigServiceClient;
  const tenant = uniqueTenant('iat');
  const issuedIn = (seconds: number) =>
    signJwt(
      devTokenClaims({ tenantId: tenant, groups: ['operators'] }, Math.floor(Date.now() / 1000) + seconds),
      ensureIssuerKeys(),
    );

  beforeAll(async () => {
    ({ server, grpc: client } = await serve());
  });

  test('an hour ahead: 401 over REST and UNAUTHENTICATED over gRPC, saying why', async () => {
    const token = issuedIn(3600);
    const answer = await callApi(server.httpUrl, 'GET', `/v1/configs/${FLAGS}`, token);
    expect(answer.status).toBe(401);
    expect(answer.body.detail).toMatch(/issued in the future/);
    const outcome = await getConfig(client, token, { key: FLAGS });
    expect(outcome.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(outcome.details).toMatch(/issued in the future/);
  });

  test('a few seconds ahead (clock skew) is still accepted', async () => {
    const answer = await callApi(server.httpUrl, 'GET', `/v1/configs/${FLAGS}`, issuedIn(5));
    expect(answer.status).toBe(404);
  });
});
