import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createAwsClients, destroyAwsClients } from '../activities/awsClients';
import { ensureHttpNamespace, ensureService } from '../common/cloudMapSetup';
import { ensureConfigTable } from '../activities/storage/configTable';
import { DEFAULT_CLOUD_MAP_NAMESPACE } from '../common/cloudMap';
import { localStateDir } from '../common/repoRoot';
import { loadAwsSettings, loadStorageSettings } from '../common/settings';
import { ensureEd25519Keys } from '../common/signedToken';
import { ensureIssuerKeys } from './stack/localIssuer';
import { ensurePayloadKeyFile } from './stack/payloadKeyFile';

/**
 * The AWS CLI v1 fetches any parameter value that looks like a URL (`--value https://…`), which is what
 * endpoints are; this config, exported as AWS_CONFIG_FILE by the stack's env, turns that off.
 */
function writeAwsCliConfig(): void {
  const file = localStateDir('aws', 'config');
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, '[default]\nregion = us-east-1\ncli_follow_urlparam = false\n');
}

/** The consuming services of the demo's example instances (scripts/stack/components.ts). */
export const EXAMPLE_SERVICES = ['orders', 'billing'] as const;

/**
 * What the local stack needs before the platform can use it: the config table and the Cloud Map
 * namespace (the emulators run in memory, so after every start), the local issuer's keys, the
 * control plane's push-signing keys, the config service's instance-grant keys and the key that encrypts
 * Temporal payloads. Idempotent.
 */
export async function provisionStack(
  env: Record<string, string | undefined> = process.env,
): Promise<string[]> {
  const clients = createAwsClients(loadAwsSettings(env));
  try {
    const { tableName, schemaTableName } = loadStorageSettings();
    const table = await ensureConfigTable(clients.dynamodb, tableName);
    const schemaTable = await ensureConfigTable(clients.dynamodb, schemaTableName);
    const namespaceName = process.env.CLOUD_MAP_NAMESPACE ?? DEFAULT_CLOUD_MAP_NAMESPACE;
    const namespace = await ensureHttpNamespace(clients.serviceDiscovery, namespaceName);
    // Made here, before the example instances start at once: moto, unlike Cloud Map, lets concurrent
    // CreateService calls make two services of one name, and instances would then hide in the other.
    for (const service of EXAMPLE_SERVICES)
      await ensureService(clients.serviceDiscovery, namespaceName, service);
    ensureIssuerKeys();
    ensureEd25519Keys(localStateDir('push'));
    ensureEd25519Keys(localStateDir('instance-grants'));
    ensurePayloadKeyFile(localStateDir('payload'));
    writeAwsCliConfig();
    return [
      `table ${tableName}: ${table}`,
      `table ${schemaTableName}: ${schemaTable}`,
      `Cloud Map namespace: ${namespace}`,
    ];
  } finally {
    destroyAwsClients(clients);
  }
}
