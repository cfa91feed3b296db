import { createAwsClients, destroyAwsClients } from '../activities/awsClients';
import { configStoreFor } from '../activities/storage/configStore';
import type { ConfigAddress } from '../common/configAddress';
import { VersionConflictError, errorMessage } from '../common/errors';
import { loadAwsSettings, loadStorageSettings } from '../common/settings';

/** Two tenants' configuration in both backends, for the demo. Re-running it leaves what is there. */
const SEED: { address: ConfigAddress; value: string }[] = [
  {
    address: { tenantId: 'acme', key: 'tenant_config_featureFlags' },
    value: '{"newCheckout":true,"darkMode":false}',
  },
  {
    address: { tenantId: 'acme', key: 'tenant_config_paymentPreferences' },
    value: '{"provider":"stripe","currency":"USD"}',
  },
  {
    address: { tenantId: 'acme', key: 'param_config_apiEndpoint', service: 'orders' },
    value: 'https://orders.acme.example/v2',
  },
  {
    address: { tenantId: 'globex', key: 'tenant_config_featureFlags' },
    value: '{"newCheckout":false,"darkMode":true}',
  },
  {
    address: { tenantId: 'globex', key: 'param_config_apiEndpoint', service: 'orders' },
    value: 'https://orders.globex.example/v1',
  },
];

async function main(): Promise<void> {
  const clients = createAwsClients(loadAwsSettings());
  const store = configStoreFor(clients, loadStorageSettings());
  try {
    for (const { address, value } of SEED) {
      const where = `${address.tenantId}/${address.service ? `${address.service}/` : ''}${address.key}`;
      try {
        const written = await store.put(address, value, { expectedVersion: 0, makeLive: true });
        console.log(`  seeded ${where} v${written.version}`);
      } catch (error) {
        if (!(error instanceof VersionConflictError)) throw error;
        console.log(`  kept   ${where} (already there)`);
      }
    }
  } finally {
    destroyAwsClients(clients);
  }
}

main().catch((error: unknown) => {
  console.error(errorMessage(error));
  process.exit(1);
});
