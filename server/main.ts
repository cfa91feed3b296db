import { createAwsClients } from '../activities/awsClients';
import { configStoreFor } from '../activities/storage/configStore';
import { outOfBandPlanStoreFor } from '../activities/storage/outOfBandPlanStore';
import { freezeStoreFor } from '../activities/storage/freezeStore';
import { createLogger } from '../common/logger';
import {
  loadAuthSettings,
  loadAwsSettings,
  loadMetricsSettings,
  loadServerSettings,
  loadStorageSettings,
  loadTemporalSettings,
} from '../common/settings';
import { createTokenVerifier } from './auth/tokenVerifier';
import { startPlatformServer } from './platformServer';
import { RolloutService } from './rollouts/rolloutService';
import { payloadCodecFor, createTemporalClient } from '../rolloutClient';
import { errorMessage } from '../common/errors';
import { startMetricsServer } from '../common/metricsEndpoint';
import { ServerMetrics } from './metrics/serverMetrics';
import { startTracing } from '../common/tracing';

/** Entry point of the config service: gRPC ConfigService and the REST API. */
async function main(): Promise<void> {
  const logger = createLogger({ component: 'config-service' });
  const tracing = startTracing('config-service', logger);
  const clients = createAwsClients(loadAwsSettings());
  const storageSettings = loadStorageSettings();
  const store = configStoreFor(clients, storageSettings);
  const temporalSettings = loadTemporalSettings();
  // Lazy: config reads keep working while Temporal is unreachable; rollout calls then answer 503.
  const codec = payloadCodecFor(temporalSettings.payloadEncryption);
  const temporal = await createTemporalClient(temporalSettings, {
    lazy: true,
    codec,
    traced: tracing.enabled,
  });
  const freezes = freezeStoreFor(clients, storageSettings);
  const metrics = new ServerMetrics();
  const metricsSettings = loadMetricsSettings();
  const server = await startPlatformServer({
    store,
    plans: outOfBandPlanStoreFor(clients, storageSettings),
    verifier: createTokenVerifier(loadAuthSettings()),
    logger,
    settings: loadServerSettings(),
    rollouts: new RolloutService(temporal, store, temporalSettings.taskQueue, freezes),
    payloadCodec: { codec, namespace: temporalSettings.namespace },
    temporal,
    serviceDiscovery: clients.serviceDiscovery,
    freezes,
    metrics,
    traced: tracing.enabled,
  });
  const metricsServer = await startMetricsServer(metrics.registry, {
    host: metricsSettings.bindAddress,
    port: metricsSettings.port,
  });
  logger.info('metrics listening', { port: metricsServer.port, bindAddress: metricsSettings.bindAddress });
  const shutdown = (signal: string) => {
    logger.info('shutting down', { signal });
    metricsServer.close();
    void server
      .stop()
      .then(() => tracing.shutdown())
      .then(() => process.exit(0));
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  console.error(errorMessage(error));
  process.exit(1);
});
