import {
  DiscoverInstancesCommand,
  GetInstancesHealthStatusCommand,
  GetServiceCommand,
  type HttpInstanceSummary,
  ListInstancesCommand,
  NamespaceNotFound,
  ServiceNotFound,
  type ServiceDiscoveryClient,
} from '@aws-sdk/client-servicediscovery';
import { INSTANCE_ATTRIBUTES, type ServiceInstance } from '../../common/cloudMap';
import { BackendUnavailableError } from '../../common/errors';
import type { Logger } from '../../common/logger';
import { callBackend } from '../storage/backendErrors';
import { findNamespaceId, findServiceId } from './cloudMapSetup';

/** DiscoverInstances answers at most this many instances per call, and has no next page. */
export const DISCOVER_LIMIT = 1000;
/** The largest pages ListInstances and GetInstancesHealthStatus give. */
const LIST_PAGE_SIZE = 100;

/**
 * Finds the healthy instances of consuming services that serve a tenant: its silo instances and every
 * pooled instance. Uses the DiscoverInstances API, not DNS: DNS answers at most 8 records with a 60 s TTL.
 */
export class CloudMapDiscovery {
  constructor(
    private readonly client: ServiceDiscoveryClient,
    private readonly namespace: string,
    private readonly logger: Logger,
    /** DiscoverInstances' cap; tests lower it to reach the listing path with a handful of instances. */
    private readonly discoverLimit = DISCOVER_LIMIT,
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

  /**
   * One DiscoverInstances call answers a fleet of up to its cap. A full answer may have left instances
   * out (the API has no next page), so then every instance is listed, page by page, and filtered here.
   */
  private async discover(service: string, query: Record<string, string>): Promise<ServiceInstance[]> {
    const discovered = await this.discoverOnce(service, query);
    if (discovered.length < this.discoverLimit) return this.toInstances(service, discovered);
    this.logger.info('DiscoverInstances answered its maximum; listing every instance instead', {
      service,
      query,
      limit: this.discoverLimit,
    });
    return this.toInstances(service, await this.listHealthy(service, query));
  }

  private async discoverOnce(service: string, query: Record<string, string>): Promise<HttpInstanceSummary[]> {
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
              MaxResults: this.discoverLimit,
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
    return Instances ?? [];
  }

  /** Every instance of the service whose attributes match the query and whose health is HEALTHY. */
  private async listHealthy(service: string, query: Record<string, string>): Promise<HttpInstanceSummary[]> {
    const namespaceId = await this.call(() => findNamespaceId(this.client, this.namespace));
    if (!namespaceId)
      throw new BackendUnavailableError(`Cloud Map namespace "${this.namespace}" does not exist`);
    const serviceId = await this.call(() => findServiceId(this.client, namespaceId, service));
    if (!serviceId) return [];
    const [instances, isHealthy] = await Promise.all([this.listAll(serviceId), this.healthOf(serviceId)]);
    return instances.filter(
      (instance) =>
        Object.entries(query).every(([name, value]) => instance.Attributes?.[name] === value) &&
        isHealthy(instance.InstanceId ?? ''),
    );
  }

  private async listAll(serviceId: string): Promise<HttpInstanceSummary[]> {
    const instances: HttpInstanceSummary[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.call(() =>
        this.client.send(
          new ListInstancesCommand({
            ServiceId: serviceId,
            MaxResults: LIST_PAGE_SIZE,
            NextToken: nextToken,
          }),
        ),
      );
      for (const instance of page.Instances ?? []) {
        instances.push({ InstanceId: instance.Id, Attributes: instance.Attributes });
      }
      nextToken = page.NextToken;
    } while (nextToken);
    return instances;
  }

  /**
   * As DiscoverInstances judges health: a service without health checking counts every instance
   * healthy; one with it, only those Cloud Map reports HEALTHY.
   */
  private async healthOf(serviceId: string): Promise<(instanceId: string) => boolean> {
    const { Service } = await this.call(() => this.client.send(new GetServiceCommand({ Id: serviceId })));
    if (!Service?.HealthCheckConfig && !Service?.HealthCheckCustomConfig) return () => true;
    const healthy = new Set<string>();
    let nextToken: string | undefined;
    do {
      const page = await this.call(() =>
        this.client.send(
          new GetInstancesHealthStatusCommand({
            ServiceId: serviceId,
            MaxResults: LIST_PAGE_SIZE,
            NextToken: nextToken,
          }),
        ),
      );
      for (const [instanceId, status] of Object.entries(page.Status ?? {})) {
        if (status === 'HEALTHY') healthy.add(instanceId);
      }
      nextToken = page.NextToken;
    } while (nextToken);
    return (instanceId) => healthy.has(instanceId);
  }

  private call<T>(run: () => Promise<T>): Promise<T> {
    return callBackend('Cloud Map', run);
  }

  private toInstances(service: string, summaries: readonly HttpInstanceSummary[]): ServiceInstance[] {
    return summaries.flatMap((summary) => {
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
