import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import { createAwsClients, destroyAwsClients } from '../activities/awsClients';
import type { CloudMapDiscovery } from '../activities/discovery/cloudMapDiscovery';
import { instanceRef, type ServiceInstance } from '../common/cloudMap';
import { keyFromFile } from '../common/keyFiles';
import { createLogger } from '../common/logger';
import { loadProto } from '../common/proto';
import { keysHash, signPushGrant } from '../common/pushGrant';
import { PUSH_SESSION_METADATA, WorkerPushSessions } from '../common/pushSession';
import { loadAwsSettings, loadRolloutWorkerSettings } from '../common/settings';
import { createDiscovery } from '../server/rolloutWorker';
import type { ProtoGrpcType } from '../gen/proto/refresh';
import type { HealthResponse__Output } from '../gen/proto/configsvc/v1/HealthResponse';
import { errorMessage } from '../common/errors';

/**
 * The demo's view of its fleet (scripts/demo.sh drives the rollouts themselves with cfgctl): waits until
 * the example instances serving acme are discoverable in Cloud Map, then asks each, as the control plane
 * does, whether it is healthy and which version of acme's feature flags it holds.
 */
const TENANT = 'acme';
// `demo-fleet.ts [key] [service]`: a per-service key is shown for that service's instances only.
const KEY = process.argv[2] ?? 'tenant_config_featureFlags';
const SERVICE = process.argv[3];
const SERVICES = SERVICE ? [SERVICE] : ['orders', 'billing'];

async function main(): Promise<void> {
  const aws = createAwsClients(loadAwsSettings());
  const discovery = createDiscovery(
    aws,
    loadRolloutWorkerSettings(),
    createLogger({ component: 'demo' }, 'error'),
  );
  try {
    await showFleet(await waitForFleet(discovery));
  } finally {
    destroyAwsClients(aws);
  }
}

/** The example instances register once loaded; wait until all that serve the tenant are discoverable. */
async function waitForFleet(discovery: CloudMapDiscovery): Promise<ServiceInstance[]> {
  for (let attempt = 0; attempt < 60; attempt += 1) {
    const instances = await discovery.instancesServing(TENANT, SERVICES);
    if (instances.length >= 2 * SERVICES.length) return instances;
    await sleep(500);
  }
  throw new Error('the example instances did not register in Cloud Map: see .local/logs/orders-*.log');
}

/** Asks every instance, as the control plane does, what it holds and whether it is healthy. */
async function showFleet(fleet: ServiceInstance[]): Promise<void> {
  const { proto } = loadProto<ProtoGrpcType>('refresh.proto');
  const signingKey = keyFromFile(
    loadRolloutWorkerSettings().pushSigningKeyFile,
    'private',
    'PUSH_SIGNING_KEY_FILE',
  );
  const session = new WorkerPushSessions(signingKey).current();
  const keys = [{ tenantId: TENANT, key: KEY, service: SERVICE }];
  for (const instance of fleet) {
    const client = new proto.configsvc.v1.CacheRefresh(
      `${instance.address}:${instance.port}`,
      grpc.credentials.createInsecure(),
    );
    const metadata = new grpc.Metadata();
    const target = { ...instance, address: `${instance.address}:${instance.port}` };
    const grant = signPushGrant(session.keysFor(instance.sealingKey).macKey, target, {
      op: 'health',
      keysHash: keysHash(keys),
    });
    metadata.set('authorization', `Bearer ${grant}`);
    metadata.set(PUSH_SESSION_METADATA, session.certificate);
    const health = await new Promise<HealthResponse__Output | undefined>((resolve) =>
      client.Health(
        { keys: keys.map((k) => ({ tenant_id: k.tenantId, key: k.key, service: k.service ?? '' })) },
        metadata,
        { deadline: Date.now() + 2000 },
        (error, response) => resolve(error ? undefined : response),
      ),
    );
    client.close();
    console.log(
      `   ${instanceRef(instance).padEnd(16)} ${instance.zone ?? ''}  ${health ? `${health.status.padEnd(11)} ${KEY} v${health.held_versions[0] ?? 0}` : 'unreachable'}`,
    );
  }
}

main().catch((error: unknown) => {
  console.error(errorMessage(error));
  process.exit(1);
});
