import { type AttributeValue, type DynamoDBClient, QueryCommand } from '@aws-sdk/client-dynamodb';
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
  const items: Record<string, AttributeValue>[] = [];
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    const page = await callBackend(
      'DynamoDB',
      () =>
        client.send(
          new QueryCommand({
            TableName: tableName,
            KeyConditionExpression: 'PK = :pk AND begins_with(SK, :prefix)',
            ExpressionAttributeValues: { ':pk': { S: partitionKey }, ':prefix': { S: prefix } },
            ScanIndexForward: options.ascending ?? true,
            ConsistentRead: true,
            ExclusiveStartKey: startKey,
          }),
        ),
      options.translate,
    );
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return items;
}
