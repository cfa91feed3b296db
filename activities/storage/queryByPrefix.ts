import { type AttributeValue, type DynamoDBClient, paginateQuery } from '@aws-sdk/client-dynamodb';
import { callBackend } from './backendErrors';

/**
 * Every item of a partition whose sort key starts with `prefix`, page after page, strongly consistent,
 * in sort-key order (ascending unless `ascending` is false); `translate` maps the errors a caller expects.
 */
export async function queryByPrefix(
  client: DynamoDBClient,
  tableName: string,
  partitionKey: string,
  prefix: string,
  options: { ascending?: boolean; translate?: (error: unknown) => Error | undefined } = {},
): Promise<Record<string, AttributeValue>[]> {
  return callBackend(
    'DynamoDB',
    async () => {
      const pages = paginateQuery(
        { client },
        {
          TableName: tableName,
          KeyConditionExpression: 'PK = :pk AND begins_with(SK, :prefix)',
          ExpressionAttributeValues: { ':pk': { S: partitionKey }, ':prefix': { S: prefix } },
          ScanIndexForward: options.ascending ?? true,
          ConsistentRead: true,
        },
      );
      const items: Record<string, AttributeValue>[] = [];
      for await (const page of pages) items.push(...(page.Items ?? []));
      return items;
    },
    options.translate,
  );
}
