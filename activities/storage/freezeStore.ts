import {
  type AttributeValue,
  BatchGetItemCommand,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { BackendUnavailableError, InvalidArgumentError, NotFoundError } from '../../common/errors';
import {
  type ChangeWindow,
  changeWindowProblems,
  type Freeze,
  type FreezeScope,
  freezeReasonProblem,
  type RolloutGates,
  type StoredChangeWindows,
} from '../../common/freezes';
import type { StorageSettings } from '../../common/settings';
import { callBackend } from './backendErrors';
import { partitionKey } from './dynamoDbStrategy';
import type { StorageClients } from './registry';

/**
 * Freezes and change windows in the schema table, beside the tenants' schemas and out-of-band plans:
 * rollout policy the config service writes (never the config table). A tenant's freeze and windows are
 * items of its partition (SK `FREEZE`, `CHANGE_WINDOWS`); the platform's freeze is an item of a partition
 * no tenant id can name (every tenant's is `TENANT#…`). A wave boundary reads all three in one
 * consistent BatchGetItem; an outage throws, so a rollout never takes an unread freeze for none.
 */
export class FreezeStore {
  private readonly backend = 'DynamoDB';

  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** The freeze of `scope` (the tenant's own, or the platform's), or undefined. */
  async getFreeze(scope: FreezeScope, tenantId: string): Promise<Freeze | undefined> {
    const item = await this.getItem(freezeKey(scope, tenantId));
    return item && toFreeze(item, scope);
  }

  /** Freezes, or replaces the reason of a freeze already set (its actor and time become the new ones). */
  async putFreeze(scope: FreezeScope, tenantId: string, reason: unknown, actor: string): Promise<Freeze> {
    const problem = freezeReasonProblem(reason);
    if (problem) throw new InvalidArgumentError(problem, 'reason');
    const freeze: Freeze = {
      scope,
      frozenBy: actor,
      frozenAt: this.now().toISOString(),
      reason: reason as string,
    };
    await callBackend(this.backend, () =>
      this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: {
            ...freezeKey(scope, tenantId),
            frozenBy: { S: freeze.frozenBy },
            frozenAt: { S: freeze.frozenAt },
            reason: { S: freeze.reason },
          },
        }),
      ),
    );
    return freeze;
  }

  /** Lifts the freeze; NotFound when there was none (a second unfreeze is told so). */
  async deleteFreeze(scope: FreezeScope, tenantId: string): Promise<void> {
    const what = scope === 'platform' ? 'the platform' : 'this tenant';
    await this.deleteItem(freezeKey(scope, tenantId), `${what} is not frozen`);
  }

  async getWindows(tenantId: string): Promise<StoredChangeWindows> {
    const item = await this.getItem(windowsKey(tenantId));
    if (!item) throw new NotFoundError('no change windows are set: rollouts may run at any time', 'windows');
    return toWindows(item);
  }

  async putWindows(tenantId: string, windows: unknown, actor: string): Promise<StoredChangeWindows> {
    const [problem] = changeWindowProblems(windows);
    if (problem) throw new InvalidArgumentError(problem, problem.split(':')[0]);
    const stored: StoredChangeWindows = {
      windows: (windows as ChangeWindow[]).map(({ days, startHour, endHour }) => ({
        days,
        startHour,
        endHour,
      })),
      updatedBy: actor,
      updatedAt: this.now().toISOString(),
    };
    await callBackend(this.backend, () =>
      this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: {
            ...windowsKey(tenantId),
            windows: { S: JSON.stringify(stored.windows) },
            updatedBy: { S: stored.updatedBy },
            updatedAt: { S: stored.updatedAt },
          },
        }),
      ),
    );
    return stored;
  }

  async deleteWindows(tenantId: string): Promise<void> {
    await this.deleteItem(windowsKey(tenantId), 'no change windows are set');
  }

  /** Everything that may hold a rollout of the tenant now, in one consistent read. */
  async gatesFor(tenantId: string): Promise<RolloutGates> {
    const keys = [freezeKey('platform', tenantId), freezeKey('tenant', tenantId), windowsKey(tenantId)];
    const { Responses, UnprocessedKeys } = await callBackend(this.backend, () =>
      this.client.send(
        new BatchGetItemCommand({
          RequestItems: { [this.tableName]: { Keys: keys, ConsistentRead: true } },
        }),
      ),
    );
    // A throttled batch answers part of it: reading the rest as "not frozen" would fail open.
    if (Object.keys(UnprocessedKeys ?? {}).length > 0)
      throw new BackendUnavailableError('DynamoDB left part of the freeze read unprocessed');
    const items = Responses?.[this.tableName] ?? [];
    const find = (key: Record<string, AttributeValue>) =>
      items.find((item) => item.PK?.S === key.PK!.S && item.SK?.S === key.SK!.S);
    const platform = find(keys[0]!);
    const tenant = find(keys[1]!);
    const windows = find(keys[2]!);
    return {
      ...(platform ? { platformFreeze: toFreeze(platform, 'platform') } : {}),
      ...(tenant ? { tenantFreeze: toFreeze(tenant, 'tenant') } : {}),
      ...(windows ? { changeWindows: toWindows(windows).windows } : {}),
    };
  }

  private async getItem(key: Record<string, AttributeValue>) {
    const { Item } = await callBackend(this.backend, () =>
      this.client.send(new GetItemCommand({ TableName: this.tableName, Key: key, ConsistentRead: true })),
    );
    return Item;
  }

  private async deleteItem(key: Record<string, AttributeValue>, absent: string): Promise<void> {
    await callBackend(
      this.backend,
      () =>
        this.client.send(
          new DeleteItemCommand({
            TableName: this.tableName,
            Key: key,
            ConditionExpression: 'attribute_exists(SK)',
          }),
        ),
      (error) =>
        (error as Error).name === 'ConditionalCheckFailedException' ? new NotFoundError(absent) : undefined,
    );
  }
}

/** The freeze store as every process builds it, in the schema table its settings name. */
export function freezeStoreFor(clients: StorageClients, settings: StorageSettings): FreezeStore {
  return new FreezeStore(clients.dynamodb, settings.schemaTableName);
}

/** No tenant's partition: tenant partitions are all `TENANT#{tenantId}`. */
const PLATFORM_PARTITION = 'PLATFORM';

function freezeKey(scope: FreezeScope, tenantId: string): Record<string, AttributeValue> {
  const pk = scope === 'platform' ? PLATFORM_PARTITION : partitionKey(tenantId);
  return { PK: { S: pk }, SK: { S: 'FREEZE' } };
}

function windowsKey(tenantId: string): Record<string, AttributeValue> {
  return { PK: { S: partitionKey(tenantId) }, SK: { S: 'CHANGE_WINDOWS' } };
}

function toFreeze(item: Record<string, AttributeValue>, scope: FreezeScope): Freeze {
  return {
    scope,
    frozenBy: item.frozenBy?.S ?? '',
    frozenAt: item.frozenAt?.S ?? '',
    reason: item.reason?.S ?? '',
  };
}

function toWindows(item: Record<string, AttributeValue>): StoredChangeWindows {
  return {
    windows: JSON.parse(item.windows?.S ?? '[]') as ChangeWindow[],
    updatedBy: item.updatedBy?.S ?? '',
    updatedAt: item.updatedAt?.S ?? '',
  };
}
