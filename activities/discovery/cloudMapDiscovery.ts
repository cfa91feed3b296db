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
import { BackendUnavailableError, FleetTooLargeError } from '../../common/errors';
import type { Logger } from '../../common/logger';
import { callBackend } from '../storage/backendErrors';
import { findNamespaceId, findServiceId } from './cloudMapSetup';
import type { InstanceAdmission } from './instanceAdmission';

/** DiscoverInstances answers at most this many instances per call, and has no next page. */
export const DISCOVER_LIMIT = 1000;
/** The largest pages ListInstances and GetInstancesHealthStatus give. */
const LIST_PAGE_SIZE = 100;
/** Listing a service stops past this many registrations of every tenant: a bound on a flood's cost. */
const LIST_CEILING_FACTOR = 10;
/** Refused registrations named in one log line; the rest are counted. */
const REFUSALS_LOGGED = 20;

export interface CloudMapDiscoveryOptions {
  readonly client: ServiceDiscoveryClient;
  readonly namespace: string;
  readonly logger: Logger;
  /** Which registrations may be pushed to (instance grants, networks, ports). */
  readonly admission: InstanceAdmission;
  /** A rollout's fleet is refused beyond this many instances (FleetTooLarge). */
  readonly maxInstances: number;
  /** DiscoverInstances' cap; tests lower it to reach the listing path with a handful of instances. */
  readonly discoverLimit?: number;
}

/**
 * Finds the healthy instances of consuming services that serve a tenant: its silo instances and every
 * pooled instance, each admitted only with a valid instance grant for what it claims. Uses the
 * DiscoverInstances API, not DNS: DNS answers at most 8 records with a 60 s TTL.
 */
export class CloudMapDiscovery {
  private readonly client: ServiceDiscoveryClient;
  private readonly namespace: string;
  private readonly logger: Logger;
  private readonly discoverLimit: number;

  constructor(private readonly options: CloudMapDiscoveryOptions) {
    this.client = options.client;
    this.namespace = options.namespace;
    this.logger = options.logger;
    this.discoverLimit = options.discoverLimit ?? DISCOVER_LIMIT;
  }

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
      this.assertWithinCap(found.size, services);
    }
    return [...found.values()].sort((a, b) => a.instanceId.localeCompare(b.instanceId));
  }

  /**
   * Every healthy registration of `service`, whatever its tenancy: those admitted, and how many were
   * not. For the config service's replicas, where one that cannot be reached must be known of.
   */
  async registrationsOf(service: string): Promise<{ admitted: ServiceInstance[]; refused: number }> {
    const { admitted, refused } = this.admitAll(service, await this.registrations(service, {}));
    return { admitted, refused: refused.length };
  }

  private assertWithinCap(count: number, services: readonly string[]): void {
    if (count > this.options.maxInstances) {
      throw new FleetTooLargeError(
        `${services.join(', ')} registers more than ${this.options.maxInstances} instances for this ` +
          'tenant, the most one rollout reaches (MAX_INSTANCES_PER_ROLLOUT)',
      );
    }
  }

  private async discover(service: string, query: Record<string, string>): Promise<ServiceInstance[]> {
    return this.toInstances(service, await this.registrations(service, query));
  }

  /**
   * One DiscoverInstances call answers a fleet of up to its cap. A full answer may have left instances
   * out (the API has no next page), so then every instance is listed, page by page, and filtered here.
   */
  private async registrations(
    service: string,
    query: Record<string, string>,
  ): Promise<HttpInstanceSummary[]> {
    const discovered = await this.discoverOnce(service, query);
    if (discovered.length < this.discoverLimit) return discovered;
    this.logger.info('DiscoverInstances answered its maximum; listing every instance instead', {
      service,
      query,
      limit: this.discoverLimit,
    });
    return this.listHealthy(service, query);
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
      if (instances.length > this.options.maxInstances * LIST_CEILING_FACTOR) {
        throw new FleetTooLargeError(
          `Cloud Map service ${serviceId} holds more than ${instances.length} registrations: ` +
            `too many to list for a rollout of at most ${this.options.maxInstances} instances`,
        );
      }
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
    return this.admitAll(service, summaries).admitted;
  }

  private admitAll(
    service: string,
    summaries: readonly HttpInstanceSummary[],
  ): { admitted: ServiceInstance[]; refused: { instanceId?: string; reason: string }[] } {
    const refusals: { instanceId?: string; reason: string }[] = [];
    const admitted = summaries.flatMap((summary) => {
      const admission = this.options.admission.admit(service, summary);
      if (admission.refused === undefined) return [admission.instance];
      refusals.push({ instanceId: summary.InstanceId, reason: admission.refused });
      return [];
    });
    if (refusals.length > 0) {
      this.logger.warn('registrations refused: no rollout pushes to them', {
        service,
        refused: refusals.length,
        first: refusals.slice(0, REFUSALS_LOGGED),
      });
    }
    return { admitted, refused: refusals };
  }
}
