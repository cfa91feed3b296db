import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import { loadProto } from '../../common/proto';
import type { ProtoGrpcType } from '../../gen/proto/config';
import type { ConfigServiceClient } from '../../gen/proto/configsvc/v1/ConfigService';
import type { GetConfigResponse__Output } from '../../gen/proto/configsvc/v1/GetConfigResponse';
import { devTokenClaims, ensureIssuerKeys, signJwt } from '../../scripts/stack/localIssuer';
import { createTokenVerifier } from '../../server/auth/tokenVerifier';
import { localAuthSettings, uniqueTenant } from '../support/env';
import { startTestServer, type TestServer } from '../support/server';
import { validToken } from '../support/tokens';

/**
 * The verified-token cache (server/auth/verifiedTokenCache.ts) against the real config service, the
 * local issuer's tokens and aws-jwt-verify: what a token proved once it keeps proving only while it is
 * valid and only for itself, and what it may do is still decided on every call.
 */
const FLAGS = 'tenant_config_featureFlags';
const { proto } = loadProto<ProtoGrpcType>('config.proto');
let server: TestServer;
let client: ConfigServiceClient;
let tenantA: string;
let tenantB: string;

beforeAll(async () => {
  server = await startTestServer();
  client = new proto.configsvc.v1.ConfigService(server.grpcAddress, grpc.credentials.createInsecure());
  [tenantA, tenantB] = [uniqueTenant('a'), uniqueTenant('b')];
  for (const [tenantId, value] of [
    [tenantA, '{"tenant":"a"}'],
    [tenantB, '{"tenant":"b"}'],
  ] as const) {
    await server.store.put({ tenantId, key: FLAGS }, value, { expectedVersion: 0, makeLive: true });
  }
});

afterAll(async () => {
  client.close();
  await server.stop();
});

function getConfig(token: string): Promise<GetConfigResponse__Output | grpc.ServiceError> {
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${token}`);
  return new Promise((resolve) =>
    client.GetConfig({ key: FLAGS }, metadata, (error, response) => resolve(error ?? response!)),
  );
}

const codeOf = (outcome: GetConfigResponse__Output | grpc.ServiceError) =>
  'code' in outcome ? outcome.code : grpc.status.OK;

test('a token that expires while cached is refused at its expiry, though it was just answered', async () => {
  const token = validToken({ tenantId: tenantA, groups: ['services'], ttlSeconds: 2 });
  const exp = (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { exp: number }).exp;
  expect(codeOf(await getConfig(token))).toBe(grpc.status.OK);
  expect(codeOf(await getConfig(token))).toBe(grpc.status.OK);
  await sleep(Math.max(0, exp * 1000 - Date.now()) + 50);
  const late = await getConfig(token);
  expect(codeOf(late)).toBe(grpc.status.UNAUTHENTICATED);
  expect((late as grpc.ServiceError).details).toMatch(/expired/);
});

test("a tampered copy of a cached token (tenant B's claim, A's genuine signature) is refused, not answered from A's entry", async () => {
  const keys = ensureIssuerKeys();
  const genuine = signJwt(devTokenClaims({ tenantId: tenantA, groups: ['services'] }), keys);
  const answered = await getConfig(genuine);
  expect((answered as GetConfigResponse__Output).entry?.value).toBe('{"tenant":"a"}');

  const [header, payload, signature] = genuine.split('.') as [string, string, string];
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
  const asB = Buffer.from(JSON.stringify({ ...claims, 'custom:tenantId': tenantB })).toString('base64url');
  // A character in the middle: the last one's low bits are padding, which decoding ignores.
  const flipped = `${signature.slice(0, 10)}${signature[10] === 'A' ? 'B' : 'A'}${signature.slice(11)}`;
  for (const tampered of [`${header}.${asB}.${signature}`, `${header}.${payload}.${flipped}`]) {
    const outcome = await getConfig(tampered);
    expect(codeOf(outcome)).toBe(grpc.status.UNAUTHENTICATED);
    expect((outcome as grpc.ServiceError).details).toMatch(/invalid token/);
  }
  // The genuine token still answers, and only with its own tenant's value.
  expect(((await getConfig(genuine)) as GetConfigResponse__Output).entry?.value).toBe('{"tenant":"a"}');
});

test('a cached token is still authorized per call: an operator read its config, then is denied an instance grant', async () => {
  const token = validToken({ tenantId: tenantA, groups: ['operators'] });
  expect(codeOf(await getConfig(token))).toBe(grpc.status.OK);
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${token}`);
  const denied = await new Promise<grpc.ServiceError | null>((resolve) =>
    client.IssueInstanceGrant({ service: 'orders', tenancy: 'dedicated' }, metadata, (error) =>
      resolve(error),
    ),
  );
  expect(denied?.code).toBe(grpc.status.PERMISSION_DENIED);
});

test('the cache holds at most its bound of tokens, and a forgotten token is verified again, not refused', async () => {
  const verifier = createTokenVerifier(localAuthSettings(), { maxEntries: 3, maxAgeMs: 60_000 });
  await verifier.hydrate();
  const tokens = Array.from({ length: 5 }, (_, i) =>
    validToken({ tenantId: tenantA, groups: ['services'], subject: `caller-${i}` }),
  );
  for (const token of tokens) await verifier.verify(token);
  expect(verifier.cachedTokens).toBe(3);
  expect((await verifier.verify(tokens[0]!)).subject).toBe('caller-0');
  expect(verifier.cachedTokens).toBe(3);
});

test('reads answered from memory (a cached token, a cached and pre-encoded value) give each tenant its own value of a key both have', async () => {
  const tokenA = validToken({ tenantId: tenantA, groups: ['services'] });
  const tokenB = validToken({ tenantId: tenantB, groups: ['services'] });
  const values: string[] = [];
  for (let round = 0; round < 3; round += 1) {
    for (const token of [tokenA, tokenB])
      values.push(((await getConfig(token)) as GetConfigResponse__Output).entry?.value ?? '');
  }
  expect(values).toEqual(Array.from({ length: 3 }, () => ['{"tenant":"a"}', '{"tenant":"b"}']).flat());
});
