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
import { FLEET_SHARD_SIZE } from '../../common/rollout';
import { BackendUnavailableError, FleetTooLargeError } from '../../common/errors';
import type { Logger } from '../../common/logger';
import { callBackend } from '../storage/backendErrors';
import { findNamespaceId, findServiceId } from '../../common/cloudMapSetup';
import type { InstanceAdmission } from './instanceAdmission';

const POOL: Record<string, string> = { [INSTANCE_ATTRIBUTES.tenancy]: 'pool' };
const SILO_OF = (tenantId: string): Record<string, string> => ({
  [INSTANCE_ATTRIBUTES.tenancy]: 'silo',
  [INSTANCE_ATTRIBUTES.tenant]: tenantId,
});

/** Where a paged discovery goes on from: the service it is at and, while listing it, Cloud Map's cursor. */
export interface DiscoveryCursor {
  /** Index into the services asked for. */
  readonly service: number;
  /** Set while the service is walked with ListInstances (its DiscoverInstances answer was full). */
  readonly listing?: {
    readonly serviceId: string;
    readonly healthChecked: boolean;
    readonly nextToken?: string;
  };
  /** Instances admitted on earlier pages: the MAX_INSTANCES_PER_ROLLOUT cap counts the whole fleet. */
  readonly found: number;
  /** Registrations listed on earlier pages, for the bound on a flood's cost. */
  readonly listed: number;
}

export interface DiscoveryPage {
  readonly instances: ServiceInstance[];
  /** Where the next page starts; absent on the last. */
  readonly next?: DiscoveryCursor;
}

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

  /**
   * Every instance serving the tenant, sorted by id: the pages below, gathered. For callers that hold a
   * fleet in memory anyway (the reconciler, scripts); a rollout gathers the pages in its workflow, so no
   * single activity result carries the fleet.
   */
  async instancesServing(tenantId: string, services: readonly string[]): Promise<ServiceInstance[]> {
    const found: ServiceInstance[] = [];
    let cursor: DiscoveryCursor | undefined;
    do {
      const page = await this.page(tenantId, services, cursor);
      found.push(...page.instances);
      cursor = page.next;
    } while (cursor);
    return found.sort((a, b) => a.instanceId.localeCompare(b.instanceId));
  }

  /**
   * One page of the instances serving the tenant: at most `size`, then a cursor to go on from. A service
   * whose DiscoverInstances answers fit in a page is found with those (one call per query, as a small
   * fleet always is); a larger one is walked with ListInstances' own pages (Cloud Map's cursor, so a
   * registration or deregistration meanwhile shifts nothing), filtered here as DiscoverInstances would.
   */
  async page(
    tenantId: string,
    services: readonly string[],
    cursor?: DiscoveryCursor,
    size: number = FLEET_SHARD_SIZE,
  ): Promise<DiscoveryPage> {
    let at: DiscoveryCursor = cursor ?? { service: 0, found: 0, listed: 0 };
    const instances: ServiceInstance[] = [];
    // Both queries' answers (silo and pool) below this limit fit in one page together.
    const discoverLimit = Math.min(this.discoverLimit, Math.floor(size / 2));
    while (at.service < services.length) {
      const service = services[at.service]!;
      if (!at.listing) {
        const direct = await this.discover(service, tenantId, discoverLimit);
        if (direct) {
          if (instances.length + direct.length > size) return { instances, next: at };
          instances.push(...direct);
          at = { ...at, service: at.service + 1, found: at.found + direct.length };
          this.assertWithinCap(at.found, services);
          continue;
        }
        this.logger.info('DiscoverInstances answered its maximum; listing every instance instead', {
          service,
          limit: discoverLimit,
        });
        const listing = await this.startListing(service);
        if (!listing) {
          at = { ...at, service: at.service + 1 };
          continue;
        }
        at = { ...at, listing };
      }
      // Whole ListInstances pages, while one more fits (at least one per call, so a page always moves on).
      while (at.listing && (instances.length === 0 || instances.length + LIST_PAGE_SIZE <= size)) {
        at = await this.listPage(service, tenantId, at, instances, services);
      }
      if (at.listing) return { instances, next: at };
    }
    return { instances };
  }

  /**
   * Every healthy registration of `service`, whatever its tenancy: those admitted, and how many were
   * not. For the config service's replicas, where one that cannot be reached must be known of.
   */
  async registrationsOf(service: string): Promise<{ admitted: ServiceInstance[]; refused: number }> {
    const found = await this.discoverOnce(service, {}, this.discoverLimit);
    const { admitted, refused } = this.admitAll(service, found);
    // Replicas are a handful: a full answer may have left one out, and one not told must count as unknown.
    return { admitted, refused: refused.length + (found.length >= this.discoverLimit ? 1 : 0) };
  }

  private assertWithinCap(count: number, services: readonly string[]): void {
    if (count > this.options.maxInstances) {
      throw new FleetTooLargeError(
        `${services.join(', ')} registers more than ${this.options.maxInstances} instances for this ` +
          'tenant, the most one rollout reaches (MAX_INSTANCES_PER_ROLLOUT)',
      );
    }
  }

  /**
   * The tenant's silo instances and the pooled ones, with one DiscoverInstances call each; undefined when
   * an answer is full (the API has no next page, so instances may have been left out).
   */
  private async discover(
    service: string,
    tenantId: string,
    limit: number,
  ): Promise<ServiceInstance[] | undefined> {
    const answers = await Promise.all([
      this.discoverOnce(service, SILO_OF(tenantId), limit),
      this.discoverOnce(service, POOL, limit),
    ]);
    if (answers.some((answer) => answer.length >= limit)) return undefined;
    return this.toInstances(service, answers.flat());
  }

  private async discoverOnce(
    service: string,
    query: Record<string, string>,
    limit: number,
  ): Promise<HttpInstanceSummary[]> {
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
              MaxResults: limit,
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

  /** What listing a service needs to know once: its id, and whether Cloud Map checks its health. */
  private async startListing(service: string): Promise<DiscoveryCursor['listing']> {
    const namespaceId = await this.call(() => findNamespaceId(this.client, this.namespace));
    if (!namespaceId)
      throw new BackendUnavailableError(`Cloud Map namespace "${this.namespace}" does not exist`);
    const serviceId = await this.call(() => findServiceId(this.client, namespaceId, service));
    if (!serviceId) return undefined;
    const { Service } = await this.call(() => this.client.send(new GetServiceCommand({ Id: serviceId })));
    // As DiscoverInstances judges health: without health checking every instance counts healthy.
    return {
      serviceId,
      healthChecked: Boolean(Service?.HealthCheckConfig ?? Service?.HealthCheckCustomConfig),
    };
  }

  /** One ListInstances page of the service, filtered into `into`; the cursor after it. */
  private async listPage(
    service: string,
    tenantId: string,
    at: DiscoveryCursor,
    into: ServiceInstance[],
    services: readonly string[],
  ): Promise<DiscoveryCursor> {
    const listing = at.listing!;
    // Not paginateListInstances: the cursor outlives this call, carried in the workflow to the next page.
    const page = await this.call(() =>
      this.client.send(
        new ListInstancesCommand({
          ServiceId: listing.serviceId,
          MaxResults: LIST_PAGE_SIZE,
          NextToken: listing.nextToken,
        }),
      ),
    );
    const listed = at.listed + (page.Instances?.length ?? 0);
    if (listed > this.options.maxInstances * LIST_CEILING_FACTOR) {
      throw new FleetTooLargeError(
        `Cloud Map service ${listing.serviceId} holds more than ${listed} registrations: ` +
          `too many to list for a rollout of at most ${this.options.maxInstances} instances`,
      );
    }
    const serving = (page.Instances ?? [])
      .map((instance): HttpInstanceSummary => ({ InstanceId: instance.Id, Attributes: instance.Attributes }))
      .filter((summary) => [SILO_OF(tenantId), POOL].some((query) => matches(summary, query)));
    const healthy = listing.healthChecked ? await this.healthyAmong(listing.serviceId, serving) : serving;
    const admitted = this.toInstances(service, healthy);
    into.push(...admitted);
    const found = at.found + admitted.length;
    this.assertWithinCap(found, services);
    return page.NextToken
      ? { ...at, listing: { ...listing, nextToken: page.NextToken }, found, listed }
      : { service: at.service + 1, found, listed };
  }

  /** Those of `summaries` that Cloud Map reports HEALTHY (at most one ListInstances page of them). */
  private async healthyAmong(
    serviceId: string,
    summaries: readonly HttpInstanceSummary[],
  ): Promise<HttpInstanceSummary[]> {
    if (summaries.length === 0) return [];
    const { Status } = await this.call(() =>
      this.client.send(
        new GetInstancesHealthStatusCommand({
          ServiceId: serviceId,
          Instances: summaries.map((summary) => summary.InstanceId ?? ''),
          MaxResults: LIST_PAGE_SIZE,
        }),
      ),
    );
    return summaries.filter((summary) => Status?.[summary.InstanceId ?? ''] === 'HEALTHY');
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

function matches(summary: HttpInstanceSummary, query: Record<string, string>): boolean {
  return Object.entries(query).every(([name, value]) => summary.Attributes?.[name] === value);
}
