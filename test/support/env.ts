import { randomUUID } from 'node:crypto';
import { createAwsClients, type AwsClients } from '../../activities/awsClients';
import { type ConfigStore, configStoreFor } from '../../activities/storage/configStore';
import { loadAuthSettings, loadAwsSettings, loadStorageSettings } from '../../common/settings';

/**
 * What tests share: clients of the local stack started by the jest global setup (which exports its
 * endpoints into process.env), and names that keep concurrently running test files apart.
 */
export function stackClients(): AwsClients {
  return createAwsClients(loadAwsSettings());
}

export function stackStore(clients: AwsClients): ConfigStore {
  return configStoreFor(clients, loadStorageSettings());
}

/** A tenant id no other test uses, so tests need no cleanup between them and can run in parallel. */
export function uniqueTenant(label = 't'): string {
  return `${label}-${randomUUID().slice(0, 8)}`;
}

/** The global setup exports the local issuer's user pool and client with the stack's endpoints. */
export function localAuthSettings() {
  return loadAuthSettings();
}
