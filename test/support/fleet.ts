import { readFileSync } from 'node:fs';
import type { AwsClients } from '../../activities/awsClients';
import { createLogger } from '../../common/logger';
import { loadRolloutWorkerSettings } from '../../common/settings';
import { ConfigClient, type HealthHook } from '../../sdk';
import type { RefreshTls } from '../../sdk/refreshServer';
import type { TestServer } from './server';
import { validToken } from './tokens';

export interface FleetMember {
  readonly client: ConfigClient;
  readonly service: string;
  /** A tenant id (a silo instance) or `pool`. */
  readonly tenancy: string;
}

/**
 * Real SDK instances on free loopback ports, registered in the stack's Cloud Map, reading through the
 * test's ConfigService: what a rollout pushes to in the integration tests and benchmarks.
 */
export async function startInstance(options: {
  server: TestServer;
  clients: AwsClients;
  service: string;
  /** A tenant id for a silo instance, or `pool`. */
  tenancy: string;
  preload: { tenantId: string; key: string; service?: string }[];
  zone?: string;
  /** The SDK's safety-net check; off unless a test is about it. */
  versionCheckIntervalMs?: number;
  /** The app's health, asked on every Health call (the rollout's health gate). */
  health?: HealthHook;
  /** TLS (and mutual TLS) on the instance's CacheRefresh server. */
  refreshTls?: RefreshTls;
}): Promise<FleetMember> {
  const settings = loadRolloutWorkerSettings();
  const client = new ConfigClient({
    service: options.service,
    tenancy: options.tenancy === 'pool' ? { kind: 'pool' } : { kind: 'silo', tenantId: options.tenancy },
    configServiceAddress: options.server.grpcAddress,
    tokenFor: (tenantId) => Promise.resolve(validToken({ tenantId, groups: ['services'] })),
    preload: options.preload,
    refreshServer: { host: '127.0.0.1', port: 0, ...(options.refreshTls ? { tls: options.refreshTls } : {}) },
    pushVerifyKeyPem: readFileSync(requiredEnv('PUSH_VERIFY_KEY_FILE'), 'utf8'),
    cloudMap: {
      client: options.clients.serviceDiscovery,
      namespace: settings.cloudMapNamespace,
      createServiceIfMissing: true,
      ...(options.zone ? { zone: options.zone } : {}),
      // A pooled instance's grant needs the platform's pool-services group; a silo uses its service token.
      ...(options.tenancy === 'pool'
        ? {
            grantToken: () =>
              Promise.resolve(validToken({ tenantId: 'platform', groups: ['pool-services'] })),
          }
        : {}),
    },
    versionCheckIntervalMs: options.versionCheckIntervalMs ?? 0,
    ...(options.health ? { health: options.health } : {}),
    logger: createLogger({ component: 'test-instance' }, 'error'),
  });
  await client.start();
  return { client, service: options.service, tenancy: options.tenancy };
}

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: the jest global setup exports the stack's environment`);
  return value;
}
