import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { NotFoundError, VersionConflictError } from '../../common/errors';
import { callBackend } from './backendErrors';
import { partitionKey } from './dynamoDbStrategy';
import { queryByPrefix } from './queryByPrefix';

/** The JSON Schema a tenant's values of one key must match, with who set it and when. */
export interface StoredSchema {
  readonly key: string;
  readonly schema: { readonly [field: string]: unknown };
  /** Starts at 1 and grows with each change, for optimistic concurrency between release managers. */
  readonly version: number;
  /** ISO 8601, UTC. */
  readonly updatedAt: string;
  /** The token subject that set it. */
  readonly updatedBy: string;
}

export interface PutSchemaOptions {
  readonly actor: string;
  /** The version the caller saw (0 for none): the write is refused if the schema moved on. */
  readonly expectedVersion?: number;
}

/**
 * Value schemas in a DynamoDB table of their own (PK `TENANT#{tenantId}`, SK `SCHEMA#{key}`), whichever
 * backend holds the key's values: the config service may write this table and never the config table.
 */
export class SchemaRegistry {
  private readonly backend = 'DynamoDB';

  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async get(tenantId: string, key: string): Promise<StoredSchema | undefined> {
    const { Item } = await callBackend(this.backend, () =>
      this.client.send(
        new GetItemCommand({ TableName: this.tableName, Key: itemKey(tenantId, key), ConsistentRead: true }),
      ),
    );
    return Item ? toSchema(key, Item) : undefined;
  }

  async put(tenantId: string, key: string, schema: object, options: PutSchemaOptions): Promise<StoredSchema> {
    const expected = options.expectedVersion;
    const condition =
      expected === undefined
        ? {}
        : expected === 0
          ? { ConditionExpression: 'attribute_not_exists(PK)' }
          : { ConditionExpression: 'version = :expected' };
    try {
      const { Attributes } = await callBackend(this.backend, () =>
        this.client.send(
          new UpdateItemCommand({
            TableName: this.tableName,
            Key: itemKey(tenantId, key),
            UpdateExpression: 'SET #schema = :schema, updatedAt = :now, updatedBy = :actor ADD version :one',
            ExpressionAttributeNames: { '#schema': 'schema' },
            ExpressionAttributeValues: {
              ':schema': { S: JSON.stringify(schema) },
              ':now': { S: this.now().toISOString() },
              ':actor': { S: options.actor },
              ':one': { N: '1' },
              ...(expected ? { ':expected': { N: String(expected) } } : {}),
            },
            ...condition,
            ReturnValues: 'ALL_NEW',
          }),
        ),
      );
      return toSchema(key, Attributes!);
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const current = await this.get(tenantId, key);
      throw new VersionConflictError(key, expected ?? 0, current?.version ?? 0);
    }
  }

  async delete(tenantId: string, key: string): Promise<void> {
    const { Attributes } = await callBackend(this.backend, () =>
      this.client.send(
        new DeleteItemCommand({
          TableName: this.tableName,
          Key: itemKey(tenantId, key),
          ReturnValues: 'ALL_OLD',
        }),
      ),
    );
    if (!Attributes) throw new NotFoundError(`no schema is set for "${key}"`, 'key');
  }

  async list(tenantId: string): Promise<StoredSchema[]> {
    const items = await queryByPrefix(this.client, this.tableName, partitionKey(tenantId), SORT_KEY_PREFIX);
    return items.map((item) => toSchema(item.SK!.S!.slice(SORT_KEY_PREFIX.length), item));
  }
}

const SORT_KEY_PREFIX = 'SCHEMA#';

function itemKey(tenantId: string, key: string): Record<string, AttributeValue> {
  return { PK: { S: partitionKey(tenantId) }, SK: { S: `${SORT_KEY_PREFIX}${key}` } };
}

function toSchema(key: string, item: Record<string, AttributeValue>): StoredSchema {
  return {
    key,
    schema: JSON.parse(item.schema?.S ?? '{}') as StoredSchema['schema'],
    version: Number(item.version?.N ?? 0),
    updatedAt: item.updatedAt?.S ?? '',
    updatedBy: item.updatedBy?.S ?? '',
  };
}
