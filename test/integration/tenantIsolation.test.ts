import * as grpc from '@grpc/grpc-js';
import { loadProto } from '../../common/proto';
import type { ProtoGrpcType } from '../../gen/proto/config';
import type { ConfigServiceClient } from '../../gen/proto/configsvc/v1/ConfigService';
import type { GetConfigResponse__Output } from '../../gen/proto/configsvc/v1/GetConfigResponse';
import { uniqueTenant } from '../support/env';
import { startTestServer, type TestServer } from '../support/server';
import { badTokens, validToken } from '../support/tokens';

/**
 * Every way a request can fail authentication or try to cross tenants, on both front doors: the gRPC
 * ConfigService and the REST API, against the real server, the moto servers (DynamoDB, Parameter Store) and the local issuer.
 */
let server: TestServer;
let grpcClient: ConfigServiceClient;
let tenantA: string;
let tenantB: string;

const FLAG_KEY = 'tenant_config_featureFlags';
const ENDPOINT_KEY = 'param_config_apiEndpoint';

beforeAll(async () => {
  server = await startTestServer();
  const { proto } = loadProto<ProtoGrpcType>('config.proto');
  grpcClient = new proto.configsvc.v1.ConfigService(server.grpcAddress, grpc.credentials.createInsecure());
  tenantA = uniqueTenant('a');
  tenantB = uniqueTenant('b');
  await server.store.put({ tenantId: tenantA, key: FLAG_KEY }, '{"beta":true}', {
    expectedVersion: 0,
    makeLive: true,
  });
  await server.store.put({ tenantId: tenantA, key: ENDPOINT_KEY, service: 'orders' }, 'https://a.example', {
    expectedVersion: 0,
    makeLive: true,
  });
  await server.store.put({ tenantId: tenantB, key: FLAG_KEY }, '{"beta":false}', {
    expectedVersion: 0,
    makeLive: true,
  });
});

afterAll(async () => {
  grpcClient.close();
  await server.stop();
});

const operatorOf = (tenantId: string) => validToken({ tenantId, groups: ['operators'] });

interface Outcome {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

async function restGet(
  path: string,
  init: { token?: string; headers?: Record<string, string> } = {},
): Promise<Outcome> {
  const response = await fetch(`${server.httpUrl}${path}`, {
    headers: { ...(init.token ? { authorization: `Bearer ${init.token}` } : {}), ...init.headers },
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

function grpcGet(
  request: { key: string; service?: string },
  init: { token?: string; authorization?: string; metadata?: Record<string, string> } = {},
): Promise<{ code: grpc.status; response?: GetConfigResponse__Output; details?: string }> {
  const metadata = new grpc.Metadata();
  const authorization = init.authorization ?? (init.token ? `Bearer ${init.token}` : undefined);
  if (authorization) metadata.set('authorization', authorization);
  for (const [name, value] of Object.entries(init.metadata ?? {})) metadata.set(name, value);
  return new Promise((resolve) => {
    grpcClient.GetConfig(request, metadata, (error, response) =>
      resolve(error ? { code: error.code, details: error.details } : { code: grpc.status.OK, response }),
    );
  });
}

describe('a tenant reads its own configuration', () => {
  test('over REST, with the value and version', async () => {
    const { status, body } = await restGet(`/v1/configs/${FLAG_KEY}`, { token: operatorOf(tenantA) });
    expect(status).toBe(200);
    expect(body).toMatchObject({ key: FLAG_KEY, version: 1, value: '{"beta":true}', format: 'json' });
  });

  test('over gRPC, with the value and version', async () => {
    const { code, response } = await grpcGet(
      { key: ENDPOINT_KEY, service: 'orders' },
      { token: operatorOf(tenantA) },
    );
    expect(code).toBe(grpc.status.OK);
    expect(response?.entry).toMatchObject({
      key: ENDPOINT_KEY,
      service: 'orders',
      version: 1,
      value: 'https://a.example',
    });
  });

  test('ListConfigs over gRPC and GET /v1/configs over REST list the same keys', async () => {
    const token = operatorOf(tenantA);
    const rest = await restGet('/v1/configs', { token });
    const grpcList = await new Promise<string[]>((resolve, reject) => {
      const metadata = new grpc.Metadata();
      metadata.set('authorization', `Bearer ${token}`);
      grpcClient.ListConfigs({}, metadata, (error, response) =>
        error ? reject(error) : resolve((response?.entries ?? []).map((e) => e.key).sort()),
      );
    });
    const restKeys = (rest.body.items as { key: string }[]).map((e) => e.key).sort();
    expect(restKeys).toEqual([ENDPOINT_KEY, FLAG_KEY]);
    expect(grpcList).toEqual(restKeys);
  });
});

describe('a tenant B token asking for tenant A’s key', () => {
  test('gets REST 404, exactly as for a key nobody has', async () => {
    const crossTenant = await restGet(`/v1/configs/${ENDPOINT_KEY}?service=orders`, {
      token: operatorOf(tenantB),
    });
    const nobody = await restGet('/v1/configs/param_config_neverWritten?service=orders', {
      token: operatorOf(tenantB),
    });
    expect(crossTenant.status).toBe(404);
    expect(nobody.status).toBe(404);
    expect(crossTenant.body.title).toBe(nobody.body.title);
    expect(JSON.stringify(crossTenant.body)).not.toContain(tenantA);
  });

  test('gets gRPC NOT_FOUND', async () => {
    const { code } = await grpcGet({ key: ENDPOINT_KEY, service: 'orders' }, { token: operatorOf(tenantB) });
    expect(code).toBe(grpc.status.NOT_FOUND);
  });

  test('reads its own value, not tenant A’s, for a key both have', async () => {
    const { body } = await restGet(`/v1/configs/${FLAG_KEY}`, { token: operatorOf(tenantB) });
    expect(body.value).toBe('{"beta":false}');
  });

  test('lists only its own keys', async () => {
    const { body } = await restGet('/v1/configs', { token: operatorOf(tenantB) });
    expect(body.items).toEqual([expect.objectContaining({ key: FLAG_KEY, value: '{"beta":false}' })]);
  });
});

describe.each(Object.entries(badTokens))('a request with a token that has %s', (_name, { make, reason }) => {
  test('is refused with REST 401 and a problem naming the authorization and the reason', async () => {
    const { status, body } = await restGet(`/v1/configs/${FLAG_KEY}`, { token: make() });
    expect(status).toBe(401);
    expect(body).toMatchObject({ status: 401, title: 'Unauthenticated', field: 'authorization' });
    expect(body.detail).toMatch(reason);
  });

  test('is refused with gRPC UNAUTHENTICATED and the reason', async () => {
    const { code, details } = await grpcGet({ key: FLAG_KEY }, { token: make() });
    expect(code).toBe(grpc.status.UNAUTHENTICATED);
    expect(details).toMatch(reason);
  });
});

describe('requests without usable credentials', () => {
  test('no token: REST 401', async () => {
    const { status, body } = await restGet(`/v1/configs/${FLAG_KEY}`);
    expect(status).toBe(401);
    expect(body.detail).toMatch(/missing credentials/);
  });

  test('no token: gRPC UNAUTHENTICATED', async () => {
    expect((await grpcGet({ key: FLAG_KEY })).code).toBe(grpc.status.UNAUTHENTICATED);
  });

  test('a non-Bearer scheme: REST 401 and gRPC UNAUTHENTICATED', async () => {
    const rest = await restGet(`/v1/configs/${FLAG_KEY}`, {
      headers: { authorization: 'Basic YWRtaW46YWRtaW4=' },
    });
    expect(rest.status).toBe(401);
    expect((await grpcGet({ key: FLAG_KEY }, { authorization: 'Basic YWRtaW46YWRtaW4=' })).code).toBe(
      grpc.status.UNAUTHENTICATED,
    );
  });
});

describe('a verified token without a platform role', () => {
  const noRole = () => validToken({ tenantId: tenantA, groups: [] });

  test('is refused with REST 403', async () => {
    const { status, body } = await restGet(`/v1/configs/${FLAG_KEY}`, { token: noRole() });
    expect(status).toBe(403);
    expect(body.title).toBe('PermissionDenied');
  });

  test('is refused with gRPC PERMISSION_DENIED', async () => {
    expect((await grpcGet({ key: FLAG_KEY }, { token: noRole() })).code).toBe(grpc.status.PERMISSION_DENIED);
  });
});

describe('a tenant id smuggled into the request is refused, never used', () => {
  test.each([
    ['query string', `/v1/configs/${FLAG_KEY}?tenantId=`, {}],
    ['query string (snake case)', `/v1/configs/${FLAG_KEY}?tenant_id=`, {}],
    ['header', `/v1/configs/${FLAG_KEY}`, { 'x-tenant-id': 'TENANT' }],
  ])('in the %s: REST 400 naming the field', async (_where, path, headers: Record<string, string>) => {
    const withTenant = Object.fromEntries(
      Object.entries(headers).map(([k, v]) => [k, v.replace('TENANT', tenantA)]),
    );
    const { status, body } = await restGet(`${path}${path.endsWith('=') ? tenantA : ''}`, {
      token: operatorOf(tenantB),
      headers: withTenant,
    });
    expect(status).toBe(400);
    expect(body.detail).toMatch(/tenant is taken from your token/);
    expect(String(body.field).toLowerCase()).toMatch(/tenant/);
  });

  test('in a JSON body: REST 400', async () => {
    // The check guards every /v1 route before routing, so any request with a body shows it.
    const response = await fetch(`${server.httpUrl}/v1/configs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${operatorOf(tenantB)}`, 'content-type': 'application/json' },
      body: JSON.stringify({ tenantId: tenantA }),
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { field: string }).field).toBe('tenantId');
  });

  test('in gRPC metadata: INVALID_ARGUMENT', async () => {
    const { code, details } = await grpcGet(
      { key: FLAG_KEY },
      { token: operatorOf(tenantB), metadata: { 'x-tenant-id': tenantA } },
    );
    expect(code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(details).toMatch(/tenant is taken from your token/);
  });
});

describe('bad input gets a clear error naming the field', () => {
  test('an unsafe key: REST 400 and gRPC INVALID_ARGUMENT', async () => {
    const rest = await restGet('/v1/configs/tenant_config_..', { token: operatorOf(tenantA) });
    expect(rest.status).toBe(400);
    expect(rest.body).toMatchObject({ title: 'InvalidKey', field: 'key' });
    expect((await grpcGet({ key: 'tenant_config_a b' }, { token: operatorOf(tenantA) })).code).toBe(
      grpc.status.INVALID_ARGUMENT,
    );
  });

  test('an unknown prefix names the known ones', async () => {
    const { status, body } = await restGet('/v1/configs/secret_x', { token: operatorOf(tenantA) });
    expect(status).toBe(400);
    expect(body.detail).toMatch(/tenant_config_, param_config_/);
  });

  test('a version that is not a positive integer', async () => {
    const { status, body } = await restGet(`/v1/configs/${FLAG_KEY}?version=abc`, {
      token: operatorOf(tenantA),
    });
    expect(status).toBe(400);
    expect(body.field).toBe('version');
  });

  test('errors are application/problem+json', async () => {
    const response = await fetch(`${server.httpUrl}/v1/configs/${FLAG_KEY}`);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });
});
