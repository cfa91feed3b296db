import { DeregisterInstanceCommand, RegisterInstanceCommand } from '@aws-sdk/client-servicediscovery';
import { readFileSync } from 'node:fs';
import type { AwsClients } from '../../activities/awsClients';
import { ensureService } from '../../common/cloudMapSetup';
import { INSTANCE_ATTRIBUTES } from '../../common/cloudMap';
import { createLogger } from '../../common/logger';
import { loadRolloutWorkerSettings } from '../../common/settings';
import { ConfigClient, type ConfigClientOptions, type HealthHook } from '../../sdk';
import type { RefreshTls } from '../../sdk/refreshServer';
import type { TestServer } from './server';
import { grantFor } from './instanceGrants';
import { closedPort } from './ports';
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
  /** The SDK's check of its own Cloud Map registration; off unless a test is about it. */
  registrationCheckIntervalMs?: number;
  /** The app's health, asked on every Health call (the rollout's health gate). */
  health?: HealthHook;
  /** TLS (and mutual TLS) on the instance's CacheRefresh server. */
  refreshTls?: RefreshTls;
  /** Where CacheRefresh listens (default 127.0.0.1), and the IPv4 registered in its place (a proxy's). */
  refreshHost?: string;
  advertiseAddress?: string;
  /** Where the SDK registers its metrics (a registry of its own otherwise). */
  metricsRegistry?: ConfigClientOptions['metricsRegistry'];
}): Promise<FleetMember> {
  const settings = loadRolloutWorkerSettings();
  const client = new ConfigClient({
    service: options.service,
    tenancy: options.tenancy === 'pool' ? { kind: 'pool' } : { kind: 'silo', tenantId: options.tenancy },
    configServiceAddress: options.server.grpcAddress,
    tokenFor: (tenantId) => Promise.resolve(validToken({ tenantId, groups: ['services'] })),
    preload: options.preload,
    refreshServer: {
      host: options.refreshHost ?? '127.0.0.1',
      port: 0,
      ...(options.refreshTls ? { tls: options.refreshTls } : {}),
    },
    pushVerifyKeyPem: readFileSync(requiredEnv('PUSH_VERIFY_KEY_FILE'), 'utf8'),
    cloudMap: {
      client: options.clients.serviceDiscovery,
      namespace: settings.cloudMapNamespace,
      createServiceIfMissing: true,
      ...(options.zone ? { zone: options.zone } : {}),
      ...(options.advertiseAddress ? { advertiseAddress: options.advertiseAddress } : {}),
      // A pooled instance's grant needs the platform's pool-services group; a silo uses its service token.
      ...(options.tenancy === 'pool'
        ? {
            grantToken: () =>
              Promise.resolve(validToken({ tenantId: 'platform', groups: ['pool-services'] })),
          }
        : {}),
    },
    versionCheckIntervalMs: options.versionCheckIntervalMs ?? 0,
    registrationCheckIntervalMs: options.registrationCheckIntervalMs ?? 0,
    ...(options.health ? { health: options.health } : {}),
    ...(options.metricsRegistry ? { metricsRegistry: options.metricsRegistry } : {}),
    logger: createLogger({ component: 'test-instance' }, 'error'),
  });
  await client.start();
  return { client, service: options.service, tenancy: options.tenancy };
}

export function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: the jest global setup exports the stack's environment`);
  return value;
}

/**
 * A pooled instance registered in the stack's Cloud Map with nothing listening on its port: down for
 * as long as a test needs. `deregister` removes it again.
 */
export async function registerDeadInstance(
  clients: AwsClients,
  service: string,
  instanceId: string,
): Promise<{ port: number; deregister: () => Promise<void> }> {
  const port = await closedPort();
  const serviceId = await ensureService(
    clients.serviceDiscovery,
    loadRolloutWorkerSettings().cloudMapNamespace,
    service,
  );
  await clients.serviceDiscovery.send(
    new RegisterInstanceCommand({
      ServiceId: serviceId,
      InstanceId: instanceId,
      Attributes: {
        [INSTANCE_ATTRIBUTES.ipv4]: '127.0.0.1',
        [INSTANCE_ATTRIBUTES.port]: String(port),
        [INSTANCE_ATTRIBUTES.tenancy]: 'pool',
        // A valid pool grant: what is tried is an unreachable instance, not an unadmitted one.
        [INSTANCE_ATTRIBUTES.grant]: grantFor({ service, tenancy: 'pool' }).token,
      },
    }),
  );
  return {
    port,
    deregister: async () => {
      await clients.serviceDiscovery.send(
        new DeregisterInstanceCommand({ ServiceId: serviceId, InstanceId: instanceId }),
      );
    },
  };
}

/** A tenant's `keys` live at version 1 (`{"v":1}`), and `count` silo instances of `service` holding them. */
export async function startTenantFleet(options: {
  server: TestServer;
  clients: AwsClients;
  tenantId: string;
  service: string;
  keys: readonly string[];
  count?: number;
}): Promise<FleetMember[]> {
  const { server, clients, tenantId, service, keys } = options;
  for (const key of keys)
    await server.store.put({ tenantId, key }, '{"v":1}', { expectedVersion: 0, makeLive: true });
  const preload = keys.map((key) => ({ tenantId, key }));
  const fleet: FleetMember[] = [];
  for (let i = 0; i < (options.count ?? 1); i += 1)
    fleet.push(await startInstance({ server, clients, service, tenancy: tenantId, preload }));
  return fleet;
}
