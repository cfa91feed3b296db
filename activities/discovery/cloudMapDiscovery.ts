import {
  DiscoverInstancesCommand,
  type HttpInstanceSummary,
  NamespaceNotFound,
  ServiceNotFound,
  type ServiceDiscoveryClient,
} from '@aws-sdk/client-servicediscovery';
import { INSTANCE_ATTRIBUTES, type ServiceInstance } from '../../common/cloudMap';
import { BackendUnavailableError } from '../../common/errors';
import type { Logger } from '../../common/logger';
import { callBackend } from '../storage/backendErrors';

/** DiscoverInstances answers at most this many instances per call. */
const DISCOVER_LIMIT = 1000;

/**
 * Finds the healthy instances of consuming services that serve a tenant: its silo instances and every
 * pooled instance. Uses the DiscoverInstances API, not DNS: DNS answers at most 8 records with a 60 s TTL.
 */
export class CloudMapDiscovery {
  constructor(
    private readonly client: ServiceDiscoveryClient,
    private readonly namespace: string,
    private readonly logger: Logger,
  ) {}

  async instancesServing(tenantId: string, services: readonly string[]): Promise<ServiceInstance[]> {
    const found = new Map<string, ServiceInstance>();
    for (const service of services) {
      const [silo, pool] = await Promise.all([
        this.discover(service, {
          [INSTANCE_ATTRIBUTES.tenancy]: 'silo',
          [INSTANCE_ATTRIBUTES.tenant]: tenantId,
        }),
        this.discover(service, { [INSTANCE_ATTRIBUTES.tenancy]: 'pool' }),
      ]);
      for (const instance of [...silo, ...pool]) found.set(`${service}/${instance.instanceId}`, instance);
    }
    return [...found.values()].sort((a, b) => a.instanceId.localeCompare(b.instanceId));
  }

  private async discover(service: string, query: Record<string, string>): Promise<ServiceInstance[]> {
    let Instances: HttpInstanceSummary[] | undefined;
    try {
      ({ Instances } = await callBackend(
        'Cloud Map',
        () =>
          this.client.send(
            new DiscoverInstancesCommand({
              NamespaceName: this.namespace,
              ServiceName: service,
              HealthStatus: 'HEALTHY',
              QueryParameters: query,
              MaxResults: DISCOVER_LIMIT,
            }),
          ),
        (error) =>
          error instanceof NamespaceNotFound
            ? new BackendUnavailableError(`Cloud Map namespace "${this.namespace}" does not exist`)
            : undefined,
      ));
    } catch (error) {
      // A service nobody has registered yet simply has no instances.
      if (error instanceof ServiceNotFound) return [];
      throw error;
    }
    if ((Instances?.length ?? 0) >= DISCOVER_LIMIT) {
      this.logger.warn('Cloud Map answered its maximum; some instances may be missing', { service, query });
    }
    return (Instances ?? []).flatMap((summary) => {
      const instance = toServiceInstance(service, summary);
      if (!instance)
        this.logger.warn('instance without address or port ignored', {
          service,
          instanceId: summary.InstanceId,
        });
      return instance ? [instance] : [];
    });
  }
}

function toServiceInstance(service: string, summary: HttpInstanceSummary): ServiceInstance | undefined {
  const attributes = summary.Attributes ?? {};
  const address = attributes[INSTANCE_ATTRIBUTES.ipv4];
  const port = Number(attributes[INSTANCE_ATTRIBUTES.port]);
  if (!summary.InstanceId || !address || !Number.isInteger(port) || port <= 0) return undefined;
  const tenantId = attributes[INSTANCE_ATTRIBUTES.tenant];
  const zone = attributes[INSTANCE_ATTRIBUTES.zone];
  return {
    instanceId: summary.InstanceId,
    service,
    address,
    port,
    tenancy: attributes[INSTANCE_ATTRIBUTES.tenancy] === 'pool' ? 'pool' : 'silo',
    ...(tenantId ? { tenantId } : {}),
    ...(zone ? { zone } : {}),
  };
}
