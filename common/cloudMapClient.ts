import { ServiceDiscoveryClient } from '@aws-sdk/client-servicediscovery';
import type { AwsSettings } from './settings';

/**
 * The Cloud Map client on its own, so a service embedding the SDK (which needs only this one) does not
 * load the control plane's DynamoDB, Parameter Store and CloudWatch clients.
 */
export function createCloudMapClient({ region, endpoints }: AwsSettings): ServiceDiscoveryClient {
  return new ServiceDiscoveryClient({
    region,
    endpoint: endpoints.serviceDiscovery,
    // The SDK prefixes DiscoverInstances' host with `data-`, which a custom endpoint does not have.
    disableHostPrefix: endpoints.serviceDiscovery !== undefined,
  });
}
