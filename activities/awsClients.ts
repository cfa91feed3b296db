import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ServiceDiscoveryClient } from '@aws-sdk/client-servicediscovery';
import { SSMClient } from '@aws-sdk/client-ssm';
import type { AwsSettings } from '../common/settings';

export interface AwsClients {
  readonly dynamodb: DynamoDBClient;
  readonly ssm: SSMClient;
  readonly serviceDiscovery: ServiceDiscoveryClient;
  /** The alarm gate's: it reads alarms (DescribeAlarms, DescribeAlarmHistory), nothing else. */
  readonly cloudWatch: CloudWatchClient;
}

/**
 * The AWS clients, built once per process from settings. The same code talks to AWS or to the local
 * stack; only the endpoints differ.
 */
export function createAwsClients(settings: AwsSettings): AwsClients {
  const { region, endpoints } = settings;
  return {
    dynamodb: new DynamoDBClient({ region, endpoint: endpoints.dynamodb }),
    ssm: new SSMClient({ region, endpoint: endpoints.ssm }),
    serviceDiscovery: new ServiceDiscoveryClient({
      region,
      endpoint: endpoints.serviceDiscovery,
      // The SDK prefixes DiscoverInstances' host with `data-`, which a custom endpoint does not have.
      disableHostPrefix: endpoints.serviceDiscovery !== undefined,
    }),
    cloudWatch: new CloudWatchClient({ region, endpoint: endpoints.cloudWatch }),
  };
}

export function destroyAwsClients(clients: AwsClients): void {
  clients.dynamodb.destroy();
  clients.ssm.destroy();
  clients.serviceDiscovery.destroy();
  clients.cloudWatch.destroy();
}
