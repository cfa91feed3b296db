import { status as GrpcStatus } from '@grpc/grpc-js';
import { generateKeyPairSync } from 'node:crypto';
import { InvalidArgumentError, PermissionDeniedError } from '../../../common/errors';
import { createLogger } from '../../../common/logger';
import { ConfigClient, type ConfigClientOptions } from '../../../sdk/configClient';
import { ConfigClientStateError, ConfigServiceError } from '../../../sdk/errors';
import { TestControlPlane } from '../../support/refreshCaller';
import { closedPort } from '../../support/ports';

/**
 * The client's guard rails, without a ConfigService: nothing here reads config. Reads, pushes and
 * registration against the real services are in test/integration/sdk.test.ts.
 */
const keys = new TestControlPlane();

let unreachable: string;
beforeAll(async () => {
  unreachable = `127.0.0.1:${await closedPort()}`;
});

const options = (overrides: Partial<ConfigClientOptions> = {}): ConfigClientOptions => ({
  service: 'orders',
  tenancy: { kind: 'silo', tenantId: 'acme' },
  configServiceAddress: unreachable,
  tokenFor: () => Promise.resolve('unused'),
  refreshServer: { host: '127.0.0.1', port: 0 },
  pushVerifyKeyPem: keys.publicKeyPem,
  versionCheckIntervalMs: 0,
  logger: createLogger({}, 'error'),
  ...overrides,
});

describe('options are checked when the client is made, naming the option', () => {
  test.each<[string, Partial<ConfigClientOptions>, string]>([
    ['a malformed service name', { service: '../orders' }, 'service'],
    [
      'a silo tenant that is not a tenant id',
      { tenancy: { kind: 'silo', tenantId: 'a b' } },
      'tenancy.tenantId',
    ],
    ['a push key that is not PEM', { pushVerifyKeyPem: 'not a key' }, 'pushVerifyKeyPem'],
    ['an RSA push key', { pushVerifyKeyPem: rsaPublicPem() }, 'pushVerifyKeyPem'],
    ['a negative version check interval', { versionCheckIntervalMs: -1 }, 'versionCheckIntervalMs'],
    [
      'a fractional registration check interval',
      { registrationCheckIntervalMs: 0.5 },
      'registrationCheckIntervalMs',
    ],
    [
      'a preload tenant that is not a tenant id',
      { preload: [{ tenantId: '', key: 'tenant_config_a' }] },
      'preload[0].tenantId',
    ],
  ])('%s', (_name, overrides, field) => {
    expect(() => new ConfigClient(options(overrides))).toThrow(
      expect.objectContaining({ constructor: InvalidArgumentError, field }) as Error,
    );
  });

  test('a silo instance refuses to preload another tenant', () => {
    expect(
      () => new ConfigClient(options({ preload: [{ tenantId: 'globex', key: 'tenant_config_a' }] })),
    ).toThrow(PermissionDeniedError);
  });
});

describe('the client lifecycle', () => {
  test('get() before start() is a ConfigClientStateError, not "not found"', async () => {
    await expect(new ConfigClient(options()).get('acme', 'tenant_config_a')).rejects.toThrow(
      ConfigClientStateError,
    );
  });

  test('a silo client refuses a read for another tenant', async () => {
    const client = new ConfigClient(options());
    await client.start();
    try {
      await expect(client.get('globex', 'tenant_config_a')).rejects.toThrow(
        'this orders instance is a silo for tenant "acme" and does not serve tenant "globex"',
      );
    } finally {
      await client.stop();
    }
  });

  test('stop() is idempotent, and get() after it is a ConfigClientStateError', async () => {
    const client = new ConfigClient(options());
    await client.start();
    await Promise.all([client.stop(), client.stop()]);
    await client.stop();
    await expect(client.get('acme', 'tenant_config_a')).rejects.toThrow(ConfigClientStateError);
  });

  test('start() fails when the first load cannot reach ConfigService, and leaves nothing listening', async () => {
    const client = new ConfigClient(options({ preload: [{ tenantId: 'acme', key: 'tenant_config_a' }] }));
    const started = client.start();
    await expect(started).rejects.toThrow(ConfigServiceError);
    await expect(started).rejects.toMatchObject({ status: GrpcStatus.UNAVAILABLE });
    expect(() => client.refreshPort).toThrow(ConfigClientStateError);
  });
});

function rsaPublicPem(): string {
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return publicKey.export({ type: 'spki', format: 'pem' }).toString();
}
