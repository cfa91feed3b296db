import { createLogger } from '../../common/logger';
import { type ConfigChange, ConfigClient, configClientOptionsFromEnv } from '../../sdk';
import { FEATURE_FLAGS_KEY, featureFlagsProblem } from './featureFlags';
import { poolGrantTokenProvider, serviceTokenProvider } from './serviceTokens';
import { errorMessage } from '../../common/errors';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { startMetricsServer } from '../../common/metricsEndpoint';
import { loadMetricsSettings } from '../../common/settings';
import { startTracing } from '../../common/tracing';

const API_ENDPOINT_KEY = 'param_config_apiEndpoint';

/**
 * An example consuming service: embeds the SDK, holds its tenants' feature flags and API endpoint,
 * logs every change, and reports NOT_SERVING while a tenant's feature flags are broken, so a rollout
 * of a broken config fails the health gate and is rolled back. Configured by environment variables
 * (examples/README.md).
 */
async function main(): Promise<void> {
  const logger = createLogger({ component: 'orders-service' });
  const { preloadTenants, ...fromEnv } = configClientOptionsFromEnv();
  // The SDK records its spans through the OpenTelemetry API; the embedding service decides where they go.
  const tracing = startTracing(fromEnv.service, logger);
  // Tenants whose flags the health check looks at: those preloaded, and any a rollout pushes to.
  const tenants = new Set(preloadTenants);
  // The service's own registry, shared with the SDK: one /metrics for the whole process.
  const metricsRegistry = new Registry();
  collectDefaultMetrics({ register: metricsRegistry, prefix: 'orders_service_' });

  const client = new ConfigClient({
    ...fromEnv,
    ...(fromEnv.cloudMap && fromEnv.tenancy.kind === 'pool'
      ? { cloudMap: { ...fromEnv.cloudMap, grantToken: poolGrantTokenProvider(fromEnv.service) } }
      : {}),
    logger,
    metricsRegistry,
    tokenFor: serviceTokenProvider(fromEnv.service),
    preload: preloadTenants.flatMap((tenantId) => [
      { tenantId, key: FEATURE_FLAGS_KEY },
      { tenantId, key: API_ENDPOINT_KEY, service: fromEnv.service },
    ]),
    health: async () => {
      for (const tenantId of tenants) {
        const problem = featureFlagsProblem(await client.get(tenantId, FEATURE_FLAGS_KEY));
        if (problem) {
          logger.warn('reporting NOT_SERVING', { tenantId, key: FEATURE_FLAGS_KEY, reason: problem });
          return false;
        }
      }
      return true;
    },
  });

  const logChange = (change: ConfigChange) => {
    tenants.add(change.tenantId);
    logger.info('config changed', {
      tenantId: change.tenantId,
      key: change.key,
      service: change.service,
      version: change.heldVersion,
      previousVersion: change.previous?.version,
      removed: change.current === undefined,
      cause: change.cause,
      rolloutId: change.rolloutId,
      ...(change.key === FEATURE_FLAGS_KEY ? { flagsProblem: featureFlagsProblem(change.current) } : {}),
    });
  };
  client.onChange(FEATURE_FLAGS_KEY, logChange);
  client.onChange(API_ENDPOINT_KEY, logChange);

  await client.start();
  // Only where METRICS_PORT is set: every instance on one host needs a port of its own.
  const metricsServer = process.env.METRICS_PORT
    ? await startMetricsServer(metricsRegistry, toAddress(loadMetricsSettings()))
    : undefined;
  logger.info('orders service ready', {
    instanceId: client.instanceId,
    refreshPort: client.refreshPort,
    metricsPort: metricsServer?.port,
    tenants: [...tenants],
  });

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('shutting down', { signal });
    metricsServer?.close();
    // stop() deregisters from Cloud Map before it closes the refresh server.
    void client
      .stop()
      .catch((error: unknown) => logger.error('shutdown failed', { error }))
      .then(() => tracing.shutdown())
      .finally(() => {
        fromEnv.cloudMap?.client.destroy();
        process.exit(0);
      });
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

function toAddress(settings: { bindAddress: string; port: number }) {
  return { host: settings.bindAddress, port: settings.port };
}

main().catch((error: unknown) => {
  console.error(errorMessage(error));
  process.exit(1);
});
