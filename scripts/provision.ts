import { createAwsClients, destroyAwsClients } from '../activities/awsClients';
import { ensureConfigTable } from '../activities/storage/configTable';
import { loadAwsSettings, loadStorageSettings } from '../common/settings';
import { ensureIssuerKeys } from '../server/auth/localIssuer';

/**
 * What the local stack needs before the platform can use it: the config table (the DynamoDB emulator runs in
 * memory, so after every start) and the local issuer's keys. Idempotent.
 */
export async function provisionStack(
  env: Record<string, string | undefined> = process.env,
): Promise<string[]> {
  const clients = createAwsClients(loadAwsSettings(env));
  try {
    const { tableName } = loadStorageSettings();
    const table = await ensureConfigTable(clients.dynamodb, tableName);
    ensureIssuerKeys();
    return [`table ${tableName}: ${table}`];
  } finally {
    destroyAwsClients(clients);
  }
}
