/**
 * Acts as the control plane towards one instance, as the rollout worker does: finds it in Cloud Map
 * (only if its registration holds a valid instance grant), seals the value to it and signs a push grant
 * for exactly the call. For trying an instance by hand on the local stack (examples/README.md).
 *
 *   push-to-instance.ts <service> <instanceId> <tenant> <key> check <version>
 *   push-to-instance.ts <service> <instanceId> <tenant> <key> refresh <version> <value> [revertFrom]
 */
import { createAwsClients, destroyAwsClients } from '../activities/awsClients';
import { createLogger } from '../common/logger';
import { DEFAULT_PUSH_SETTINGS } from '../common/rollout';
import { loadAwsSettings, loadRolloutWorkerSettings } from '../common/settings';
import { createDiscovery, createPusher } from '../server/rolloutWorker';
import { errorMessage } from '../common/errors';

const USAGE =
  'usage: push-to-instance.ts <service> <instanceId> <tenant> <key> check <version> | ' +
  'refresh <version> <value> [revertFrom]';

async function main([service, instanceId, tenantId, key, verb, version, value, revertFrom]: string[]) {
  if (!service || !instanceId || !tenantId || !key || !version || (verb !== 'check' && verb !== 'refresh')) {
    throw new Error(USAGE);
  }
  const aws = createAwsClients(loadAwsSettings());
  const settings = loadRolloutWorkerSettings();
  const logger = createLogger({ component: 'push-to-instance' }, 'warn');
  const pusher = createPusher(settings, logger);
  try {
    const instances = await createDiscovery(aws, settings, logger).instancesServing(tenantId, [service]);
    const instance = instances.find((candidate) => candidate.instanceId === instanceId);
    if (!instance) throw new Error(`no admitted instance ${service}/${instanceId} serves ${tenantId}`);
    const perServiceKey = key.startsWith('param_config_');
    const address = { tenantId, key, ...(perServiceKey ? { service } : {}) };
    const outcome =
      verb === 'check'
        ? await pusher.check([instance], address, Number(version), DEFAULT_PUSH_SETTINGS)
        : await pusher.push(
            [instance],
            {
              ...address,
              version: Number(version),
              value: value ?? '',
              format: perServiceKey ? 'text' : 'json',
              rolloutId: 'by-hand',
              ...(revertFrom ? { revertFrom: Number(revertFrom) } : {}),
            },
            DEFAULT_PUSH_SETTINGS,
          );
    console.log(JSON.stringify(outcome));
  } finally {
    pusher.close();
    destroyAwsClients(aws);
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(errorMessage(error));
  process.exit(1);
});
