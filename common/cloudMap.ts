/**
 * How service instances describe themselves in AWS Cloud Map, shared by the SDK (which registers) and
 * the rollout activities (which discover). The namespace is an HTTP namespace: instances are found with
 * the DiscoverInstances API, never DNS (60 s TTLs, at most 8 answers).
 */
export const DEFAULT_CLOUD_MAP_NAMESPACE = 'config-rollout.local';

/**
 * The Cloud Map service the config service's replicas register under, so the rollout worker can tell
 * their read caches of a promotion (proto/readCache.proto). Reserved: no instance grant is issued for
 * it to anyone but a replica, which signs its own.
 */
export const CONFIG_SERVICE_REPLICAS = 'config-service-replicas';

export const INSTANCE_ATTRIBUTES = {
  /** Where the instance's CacheRefresh server listens (Cloud Map's standard attribute names). */
  ipv4: 'AWS_INSTANCE_IPV4',
  port: 'AWS_INSTANCE_PORT',
  /** `silo`: serves one tenant (named in `tenant`); `pool`: serves every tenant. */
  tenancy: 'tenancy',
  tenant: 'tenant',
  /** Availability zone or any placement label; used to spread canaries. */
  zone: 'zone',
  /** The instance grant (common/instanceGrant.ts): without a valid one, no rollout pushes to it. */
  grant: 'grant',
} as const;

export type Tenancy = 'silo' | 'pool';

/** An instance as discovered: enough to push to it and to report on it. */
export interface ServiceInstance {
  readonly instanceId: string;
  readonly service: string;
  readonly address: string;
  readonly port: number;
  readonly tenancy: Tenancy;
  readonly tenantId?: string;
  readonly zone?: string;
  /** From the instance's verified grant: the X25519 key its values are sealed to. */
  readonly sealingKey: string;
}

/** How an instance is referred to in outcomes and progress: instance ids are unique only per service. */
export function instanceRef(instance: Pick<ServiceInstance, 'service' | 'instanceId'>): string {
  return `${instance.service}/${instance.instanceId}`;
}
