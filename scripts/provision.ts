import { createAwsClients, destroyAwsClients } from '../activities/awsClients';
import { ensureHttpNamespace } from '../activities/discovery/cloudMapSetup';
import { ensureConfigTable } from '../activities/storage/configTable';
import { DEFAULT_CLOUD_MAP_NAMESPACE } from '../common/cloudMap';
import { ensurePushKeys } from '../common/pushToken';
import { localStateDir } from '../common/repoRoot';
import { loadAwsSettings, loadStorageSettings } from '../common/settings';
import { ensureIssuerKeys } from '../server/auth/localIssuer';

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
    const namespace = await ensureHttpNamespace(
      clients.serviceDiscovery,
      process.env.CLOUD_MAP_NAMESPACE ?? DEFAULT_CLOUD_MAP_NAMESPACE,
    );
    ensureIssuerKeys();
    ensurePushKeys(localStateDir('push'));
    return [`table ${tableName}: ${table}`, `Cloud Map namespace: ${namespace}`];
  } finally {
    destroyAwsClients(clients);
  }
}
