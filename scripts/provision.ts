import { createAwsClients, destroyAwsClients } from '../activities/awsClients';
import { ensureHttpNamespace, ensureService } from '../activities/discovery/cloudMapSetup';
import { ensureConfigTable } from '../activities/storage/configTable';
import { DEFAULT_CLOUD_MAP_NAMESPACE } from '../common/cloudMap';
import { ensurePushKeys } from '../common/pushToken';
import { localStateDir } from '../common/repoRoot';
import { loadAwsSettings, loadStorageSettings } from '../common/settings';
import { ensureIssuerKeys } from '../server/auth/localIssuer';

/** The consuming services of the demo's example instances (scripts/stack/components.ts). */
export const EXAMPLE_SERVICES = ['orders', 'billing'] as const;

/**
 * What the local stack needs before the platform can use it: the config table and the Cloud Map
 * namespace (the emulators run in memory, so after every start), the local issuer's keys and the
 * control plane's push-signing keys. Idempotent.
 */
export async function provisionStack(
  env: Record<string, string | undefined> = process.env,
): Promise<string[]> {
  const clients = createAwsClients(loadAwsSettings(env));
  try {
    const { tableName } = loadStorageSettings();
    const table = await ensureConfigTable(clients.dynamodb, tableName);
    const namespaceName = process.env.CLOUD_MAP_NAMESPACE ?? DEFAULT_CLOUD_MAP_NAMESPACE;
    const namespace = await ensureHttpNamespace(clients.serviceDiscovery, namespaceName);
    // Made here, before the example instances start at once: moto, unlike Cloud Map, lets concurrent
    // CreateService calls make two services of one name, and instances would then hide in the other.
    for (const service of EXAMPLE_SERVICES)
      await ensureService(clients.serviceDiscovery, namespaceName, service);
    ensureIssuerKeys();
    ensurePushKeys(localStateDir('push'));
    return [`table ${tableName}: ${table}`, `Cloud Map namespace: ${namespace}`];
  } finally {
    destroyAwsClients(clients);
  }
}
