import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SettingsError } from '../../../common/settings';
import { configClientOptionsFromEnv } from '../../../sdk/envOptions';

const keyFile = path.join(mkdtempSync(path.join(tmpdir(), 'sdk-env-')), 'public.pem');
writeFileSync(keyFile, 'PEM');

const siloEnv = {
  SERVICE_NAME: 'orders',
  CONFIG_SERVICE_ADDRESS: '127.0.0.1:50051',
  TENANT_ID: 'acme',
  PUSH_VERIFY_KEY_FILE: keyFile,
};

describe('options from the environment', () => {
  test('a silo instance serves and preloads its TENANT_ID, reads its key file, and runs unregistered by default', () => {
    const options = configClientOptionsFromEnv(siloEnv);
    expect(options).toMatchObject({
      service: 'orders',
      tenancy: { kind: 'silo', tenantId: 'acme' },
      preloadTenants: ['acme'],
      configServiceAddress: '127.0.0.1:50051',
      refreshServer: { host: '127.0.0.1', port: 0 },
      pushVerifyKeyPem: 'PEM',
    });
    expect(options.cloudMap).toBeUndefined();
  });

  test('TENANCY=pool preloads PRELOAD_TENANTS', () => {
    const { TENANT_ID: _unused, ...poolEnv } = siloEnv;
    const options = configClientOptionsFromEnv({
      ...poolEnv,
      TENANCY: 'pool',
      PRELOAD_TENANTS: 'acme, globex',
    });
    expect(options.tenancy).toEqual({ kind: 'pool' });
    expect(options.preloadTenants).toEqual(['acme', 'globex']);
  });

  test('CLOUD_MAP_NAMESPACE turns registration on, with the instance settings', () => {
    const options = configClientOptionsFromEnv({
      ...siloEnv,
      AWS_ENDPOINT_URL_SERVICEDISCOVERY: 'http://127.0.0.1:5000',
      CLOUD_MAP_NAMESPACE: 'config-rollout.local',
      CLOUD_MAP_CREATE_SERVICE: 'true',
      ZONE: 'zone-a',
      REFRESH_PORT: '7001',
    });
    expect(options.refreshServer.port).toBe(7001);
    expect(options.cloudMap).toMatchObject({
      namespace: 'config-rollout.local',
      zone: 'zone-a',
      createServiceIfMissing: true,
    });
    options.cloudMap?.client.destroy();
  });

  test.each<[string, Record<string, string>, RegExp]>([
    ['no SERVICE_NAME', { SERVICE_NAME: '' }, /SERVICE_NAME: Required/],
    ['no TENANT_ID on a silo', { TENANT_ID: '' }, /TENANT_ID: required unless TENANCY=pool/],
    [
      'TENANT_ID on a pooled instance',
      { TENANCY: 'pool' },
      /TENANT_ID: a pooled instance serves every tenant/,
    ],
    [
      'a CONFIG_SERVICE_ADDRESS without a port',
      { CONFIG_SERVICE_ADDRESS: 'config' },
      /CONFIG_SERVICE_ADDRESS: expected host:port/,
    ],
    ['a REFRESH_PORT out of range', { REFRESH_PORT: '70000' }, /REFRESH_PORT/],
    [
      'an unreadable PUSH_VERIFY_KEY_FILE',
      { PUSH_VERIFY_KEY_FILE: '/nonexistent/public.pem' },
      /PUSH_VERIFY_KEY_FILE: cannot read/,
    ],
  ])('%s stops start-up with a SettingsError naming the variable', (_name, overrides, message) => {
    const run = () => configClientOptionsFromEnv({ ...siloEnv, ...overrides });
    expect(run).toThrow(SettingsError);
    expect(run).toThrow(message);
  });
});
