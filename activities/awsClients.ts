import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { ServiceDiscoveryClient } from '@aws-sdk/client-servicediscovery';
import { SSMClient } from '@aws-sdk/client-ssm';
import { createCloudMapClient } from '../common/cloudMapClient';
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
    serviceDiscovery: createCloudMapClient(settings),
    cloudWatch: new CloudWatchClient({ region, endpoint: endpoints.cloudWatch }),
  };
}

export function destroyAwsClients(clients: AwsClients): void {
  clients.dynamodb.destroy();
  clients.ssm.destroy();
  clients.serviceDiscovery.destroy();
  clients.cloudWatch.destroy();
}
