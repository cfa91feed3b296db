import { setTimeout as sleep } from 'node:timers/promises';
import {
  type AttributeValue,
  BatchWriteItemCommand,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  paginateScan,
  QueryCommand,
  ResourceNotFoundException,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import {
  BackendUnavailableError,
  InvalidArgumentError,
  NotFoundError,
  VersionConflictError,
} from '../../common/errors';
import { callBackend } from './backendErrors';
import { queryByPrefix } from './queryByPrefix';
import type { ConfigAddress } from '../../common/configAddress';
import type {
  ConfigStrategy,
  ConfigVersion,
  HistoryEntry,
  HistoryPage,
  HistoryPageRequest,
  PutOptions,
} from './types';

/** DynamoDB's item limit is 400 KB; the rest of the item (keys, versions, timestamps) stays under 1 KB. */
const MAX_ITEM_BYTES = 400 * 1024;
const ITEM_OVERHEAD_BYTES = 1024;
const BATCH_WRITE_LIMIT = 25;

/**
 * Tenant-wide JSON configuration in one DynamoDB table, partitioned by tenant.
 *
 *   PK `TENANT#{tenantId}`, SK `CONFIG#{key}`            the current item: latest and live version numbers
 *                                                       and the live value, so a read is one GetItem
 *   PK `TENANT#{tenantId}`, SK `VERSION#{key}#{000000007}` every version ever written, for rollback and audit
 *
 * Writes are a transaction conditional on the latest version, so concurrent writers cannot lose updates.
 */
export class DynamoDbConfigStrategy implements ConfigStrategy {
  readonly backend = 'DynamoDB';
  readonly format = 'json';
  readonly maxValueBytes = MAX_ITEM_BYTES - ITEM_OVERHEAD_BYTES;
  readonly perService = false;

  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async getLive(address: ConfigAddress): Promise<ConfigVersion> {
    const item = await this.getCurrentItem(address);
    const liveVersion = item ? numberOf(item.liveVersion) : 0;
    if (!item || liveVersion === 0) throw notFound(address);
    return {
      key: address.key,
      version: liveVersion,
      value: stringOf(item.value),
      format: this.format,
      updatedAt: stringOf(item.liveUpdatedAt),
      // Keys written before it was kept have none.
      ...(item.keyCreatedAt?.S ? { createdAt: item.keyCreatedAt.S } : {}),
    };
  }

  async getVersion(address: ConfigAddress, version: number): Promise<ConfigVersion> {
    const item = await this.getVersionItem(address, version);
    if (!item) throw notFound(address, version);
    return this.toVersion(address.key, item);
  }

  async latest(address: ConfigAddress): Promise<HistoryEntry | undefined> {
    const current = await this.getCurrentItem(address);
    const latestVersion = current ? numberOf(current.latestVersion) : 0;
    const item = latestVersion > 0 ? await this.getVersionItem(address, latestVersion) : undefined;
    if (!current || !item) return undefined;
    return {
      ...this.toVersion(address.key, item),
      live: numberOf(current.liveVersion) === latestVersion,
      ...historyMarks(item),
    };
  }

  async put(address: ConfigAddress, value: string, options: PutOptions): Promise<ConfigVersion> {
    const version = options.expectedVersion + 1;
    const updatedAt = this.now().toISOString();
    const pk = { S: partitionKey(address.tenantId) };
    const liveSet = options.makeLive
      ? 'liveVersion = :version, #value = :value, liveUpdatedAt = :updatedAt'
      : 'liveVersion = if_not_exists(liveVersion, :zero)';
    const versionItem: Record<string, AttributeValue> = {
      PK: pk,
      SK: { S: versionSortKey(address.key, version) },
      configKey: { S: address.key },
      version: { N: String(version) },
      value: { S: value },
      createdAt: { S: updatedAt },
      ...(options.writeId ? { writeId: { S: options.writeId } } : {}),
      ...(options.copyOf ? { copyOf: { N: String(options.copyOf) } } : {}),
    };
    try {
      await this.call(
        (client) =>
          client.send(
            new TransactWriteItemsCommand({
              TransactItems: [
                {
                  Update: {
                    TableName: this.tableName,
                    Key: { PK: pk, SK: { S: currentSortKey(address.key) } },
                    UpdateExpression: `SET configKey = :key, latestVersion = :version, keyCreatedAt = if_not_exists(keyCreatedAt, :createdAt), ${liveSet}`,
                    ConditionExpression:
                      options.expectedVersion === 0
                        ? 'attribute_not_exists(SK)'
                        : 'latestVersion = :expected',
                    ExpressionAttributeNames: options.makeLive ? { '#value': 'value' } : undefined,
                    ExpressionAttributeValues: {
                      ':key': { S: address.key },
                      ':version': { N: String(version) },
                      ':createdAt': { S: updatedAt },
                      ...(options.expectedVersion === 0
                        ? {}
                        : { ':expected': { N: String(options.expectedVersion) } }),
                      ...(options.makeLive
                        ? { ':value': { S: value }, ':updatedAt': { S: updatedAt } }
                        : { ':zero': { N: '0' } }),
                    },
                  },
                },
                {
                  Put: {
                    TableName: this.tableName,
                    Item: versionItem,
                    ConditionExpression: 'attribute_not_exists(SK)',
                  },
                },
              ],
            }),
          ),
        (error) => (error instanceof TransactionCanceledException ? error : undefined),
      );
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      return this.resolveLostWrite(address, options);
    }
    return this.toVersion(address.key, versionItem);
  }

  async promote(address: ConfigAddress, version: number): Promise<void> {
    const target = await this.getVersion(address, version);
    try {
      await this.call(
        (client) =>
          client.send(
            new UpdateItemCommand({
              TableName: this.tableName,
              Key: { PK: { S: partitionKey(address.tenantId) }, SK: { S: currentSortKey(address.key) } },
              // The value first: moto applies SET clauses one at a time and keeps those before one it
              // refuses (DynamoDB itself is atomic), which left `liveVersion` moved without its value.
              UpdateExpression: 'SET #value = :value, liveVersion = :version, liveUpdatedAt = :updatedAt',
              // Instances never apply an older version over a newer one, so live must not go back either.
              ConditionExpression: 'attribute_exists(SK) AND liveVersion <= :version',
              ExpressionAttributeNames: { '#value': 'value' },
              ExpressionAttributeValues: {
                ':version': { N: String(target.version) },
                ':value': { S: target.value },
                ':updatedAt': { S: target.updatedAt },
              },
            }),
          ),
        (error) =>
          error instanceof ConditionalCheckFailedException
            ? error
            : // Refused as it stands (an item over DynamoDB's size limit, as moto counts it): asking
              // again cannot help, and the rollout must learn it now rather than after its retries.
              isValidationError(error)
              ? new InvalidArgumentError(`DynamoDB refused the promotion: ${error.message}`, 'value', {
                  cause: error,
                })
              : undefined,
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const current = await this.getCurrentItem(address);
      if (!current) throw notFound(address);
      throw new VersionConflictError(address.key, version, numberOf(current.liveVersion));
    }
  }

  async list(tenantId: string): Promise<ConfigVersion[]> {
    const items = await this.query(tenantId, 'CONFIG#', true);
    return items
      .filter((item) => numberOf(item.liveVersion) > 0)
      .map((item) => ({
        key: stringOf(item.configKey),
        version: numberOf(item.liveVersion),
        value: stringOf(item.value),
        format: this.format,
        updatedAt: stringOf(item.liveUpdatedAt),
      }));
  }

  async tenants(): Promise<string[]> {
    const tenants = new Set<string>();
    await this.call(async (client) => {
      const pages = paginateScan(
        { client },
        {
          TableName: this.tableName,
          ProjectionExpression: 'PK',
          FilterExpression: 'begins_with(SK, :current)',
          ExpressionAttributeValues: { ':current': { S: 'CONFIG#' } },
        },
      );
      for await (const page of pages)
        for (const item of page.Items ?? []) tenants.add(stringOf(item.PK).slice(PARTITION_PREFIX.length));
    });
    return [...tenants].sort();
  }

  async history(address: ConfigAddress): Promise<HistoryEntry[]> {
    const [current, versions] = await Promise.all([
      this.getCurrentItem(address),
      this.query(address.tenantId, versionSortKeyPrefix(address.key), false),
    ]);
    if (!current) throw notFound(address);
    const liveVersion = numberOf(current.liveVersion);
    return versions.map((item) => ({
      ...this.toVersion(address.key, item),
      live: numberOf(item.version) === liveVersion,
      ...historyMarks(item),
    }));
  }

  async historyPage(address: ConfigAddress, page: HistoryPageRequest): Promise<HistoryPage> {
    const current = await this.getCurrentItem(address);
    if (!current) throw notFound(address);
    const below = page.before ?? numberOf(current.latestVersion) + 1;
    if (below <= 1) return { entries: [], more: false };
    // One more than the page, to know whether another follows; never more than that is read.
    const { Items } = await this.call((client) =>
      client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'PK = :pk AND SK BETWEEN :oldest AND :newest',
          ExpressionAttributeValues: {
            ':pk': { S: partitionKey(address.tenantId) },
            ':oldest': { S: versionSortKey(address.key, 1) },
            ':newest': { S: versionSortKey(address.key, below - 1) },
          },
          ScanIndexForward: false,
          ConsistentRead: true,
          Limit: page.pageSize + 1,
        }),
      ),
    );
    const liveVersion = numberOf(current.liveVersion);
    const items = Items ?? [];
    return {
      entries: items.slice(0, page.pageSize).map((item) => ({
        ...this.toVersion(address.key, item),
        live: numberOf(item.version) === liveVersion,
        ...historyMarks(item),
      })),
      more: items.length > page.pageSize,
    };
  }

  async delete(address: ConfigAddress): Promise<void> {
    const current = await this.getCurrentItem(address);
    if (!current) throw notFound(address);
    const versions = await this.query(address.tenantId, versionSortKeyPrefix(address.key), true);
    // The current item goes last so a failure half-way leaves a key that can still be found and deleted.
    const keys = [...versions, current].map((item) => ({ PK: item.PK!, SK: item.SK! }));
    for (let start = 0; start < keys.length; start += BATCH_WRITE_LIMIT) {
      await this.deleteBatch(keys.slice(start, start + BATCH_WRITE_LIMIT));
    }
  }

  /** After a lost conditional write: a retry of our own write succeeded earlier, or someone else won. */
  private async resolveLostWrite(address: ConfigAddress, options: PutOptions): Promise<ConfigVersion> {
    const newest = await this.latest(address);
    if (options.writeId && newest?.writeId === options.writeId) return newest;
    throw new VersionConflictError(address.key, options.expectedVersion, newest?.version ?? 0);
  }

  private async deleteBatch(keys: Record<string, AttributeValue>[]): Promise<void> {
    let pending = keys.map((Key) => ({ DeleteRequest: { Key } }));
    for (let attempt = 0; pending.length > 0; attempt += 1) {
      if (attempt > 0) await sleep(Math.min(1000, 50 * 2 ** attempt));
      const result = await this.call((client) =>
        client.send(new BatchWriteItemCommand({ RequestItems: { [this.tableName]: pending } })),
      );
      pending = (result.UnprocessedItems?.[this.tableName] ?? []).flatMap((request) =>
        request.DeleteRequest?.Key ? [{ DeleteRequest: { Key: request.DeleteRequest.Key } }] : [],
      );
    }
  }

  /** Every call goes through here, so a missing table or an unreachable endpoint reads the same everywhere. */
  private call<T>(
    run: (client: DynamoDBClient) => Promise<T>,
    translate?: (error: unknown) => Error | undefined,
  ): Promise<T> {
    return callBackend(
      this.backend,
      () => run(this.client),
      (error) => translate?.(error) ?? this.missingTable(error),
    );
  }

  private missingTable(error: unknown): Error | undefined {
    return error instanceof ResourceNotFoundException
      ? new BackendUnavailableError(
          `DynamoDB table "${this.tableName}" does not exist: create it with \`npm run stack -- up\` locally or the deploy template on AWS`,
        )
      : undefined;
  }

  private async getVersionItem(
    address: ConfigAddress,
    version: number,
  ): Promise<Record<string, AttributeValue> | undefined> {
    const { Item } = await this.call((client) =>
      client.send(
        new GetItemCommand({
          TableName: this.tableName,
          Key: { PK: { S: partitionKey(address.tenantId) }, SK: { S: versionSortKey(address.key, version) } },
          ConsistentRead: true,
        }),
      ),
    );
    return Item;
  }

  private async getCurrentItem(address: ConfigAddress): Promise<Record<string, AttributeValue> | undefined> {
    const { Item } = await this.call((client) =>
      client.send(
        new GetItemCommand({
          TableName: this.tableName,
          Key: { PK: { S: partitionKey(address.tenantId) }, SK: { S: currentSortKey(address.key) } },
          ConsistentRead: true,
        }),
      ),
    );
    return Item;
  }

  private query(
    tenantId: string,
    sortKeyPrefix: string,
    ascending: boolean,
  ): Promise<Record<string, AttributeValue>[]> {
    return queryByPrefix(this.client, this.tableName, partitionKey(tenantId), sortKeyPrefix, {
      ascending,
      translate: (error) => this.missingTable(error),
    });
  }

  private toVersion(key: string, item: Record<string, AttributeValue>): ConfigVersion {
    return {
      key,
      version: numberOf(item.version),
      value: stringOf(item.value),
      format: this.format,
      updatedAt: stringOf(item.createdAt),
    };
  }
}

const PARTITION_PREFIX = 'TENANT#';

export function partitionKey(tenantId: string): string {
  return `${PARTITION_PREFIX}${tenantId}`;
}

export function currentSortKey(key: string): string {
  return `CONFIG#${key}`;
}

function versionSortKeyPrefix(key: string): string {
  return `VERSION#${key}#`;
}

/** Zero-padded so versions sort numerically in the sort key. */
export function versionSortKey(key: string, version: number): string {
  return `${versionSortKeyPrefix(key)}${String(version).padStart(10, '0')}`;
}

function notFound(address: ConfigAddress, version?: number): NotFoundError {
  const what = version === undefined ? `config "${address.key}"` : `version ${version} of "${address.key}"`;
  return new NotFoundError(`${what} not found`, 'key');
}

function historyMarks(item: Record<string, AttributeValue>): Pick<HistoryEntry, 'writeId' | 'copyOf'> {
  return {
    ...(item.writeId?.S ? { writeId: item.writeId.S } : {}),
    ...(item.copyOf?.N ? { copyOf: Number(item.copyOf.N) } : {}),
  };
}

function isValidationError(error: unknown): error is Error {
  return error instanceof Error && error.name === 'ValidationException';
}

function numberOf(attribute: AttributeValue | undefined): number {
  return attribute?.N ? Number(attribute.N) : 0;
}

function stringOf(attribute: AttributeValue | undefined): string {
  return attribute?.S ?? '';
}
