import {
  type AttributeValue,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  TransactionCanceledException,
  type TransactWriteItem,
  TransactWriteItemsCommand,
} from '@aws-sdk/client-dynamodb';
import { NotFoundError, PlanLimitReachedError } from '../../common/errors';
import {
  MAX_PLANS_PER_TENANT,
  type PlanScope,
  type StoredPlan,
  assertPlanScope,
} from '../../common/outOfBandPlans';
import type { RolloutPlan } from '../../common/rollout';
import type { StorageSettings } from '../../common/settings';
import { callBackend } from './backendErrors';
import { partitionKey } from './dynamoDbStrategy';
import { queryByPrefix } from './queryByPrefix';
import type { StorageClients } from './registry';

/**
 * Out-of-band plans in the schema table, beside the tenant's value schemas (PK `TENANT#{tenantId}`, SK
 * `PLAN#{selector}` or `PLAN#{selector}#{service}`): like schemas, they are per-key policy a release
 * manager sets through the config service, which may write this table and never the config table. The
 * Lambda reads them with one Query per edit. An item `PLANS` counts them, so the bound holds under
 * concurrent writers: each new plan and its count are written in one transaction.
 */
export class OutOfBandPlanStore {
  private readonly backend = 'DynamoDB';

  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    private readonly limit = MAX_PLANS_PER_TENANT,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async get(tenantId: string, scope: PlanScope): Promise<StoredPlan> {
    assertPlanScope(scope);
    const { Item } = await callBackend(this.backend, () =>
      this.client.send(
        new GetItemCommand({
          TableName: this.tableName,
          Key: planKey(tenantId, scope),
          ConsistentRead: true,
        }),
      ),
    );
    if (!Item) throw notFound(scope);
    return toStoredPlan(Item);
  }

  /** Sets the plan for a scope, replacing the one it had; a new scope counts against the tenant's bound. */
  async put(tenantId: string, scope: PlanScope, plan: RolloutPlan, actor: string): Promise<StoredPlan> {
    assertPlanScope(scope);
    const item: Record<string, AttributeValue> = {
      ...planKey(tenantId, scope),
      selector: { S: scope.selector },
      ...(scope.service ? { service: { S: scope.service } } : {}),
      plan: { S: JSON.stringify(plan) },
      updatedAt: { S: this.now().toISOString() },
      updatedBy: { S: actor },
    };
    // A scope deleted or created by someone else between two tries: try again, a few times.
    for (let attempt = 0; attempt < 3; attempt += 1) {
      if (await this.addNew(tenantId, item)) return toStoredPlan(item);
      if (await this.replace(item)) return toStoredPlan(item);
    }
    throw new PlanLimitReachedError(this.limit);
  }

  async delete(tenantId: string, scope: PlanScope): Promise<void> {
    assertPlanScope(scope);
    const deleted = await this.transact([
      {
        Delete: {
          TableName: this.tableName,
          Key: planKey(tenantId, scope),
          ConditionExpression: 'attribute_exists(SK)',
        },
      },
      {
        Update: {
          TableName: this.tableName,
          Key: countKey(tenantId),
          UpdateExpression: 'SET planCount = planCount - :one',
          ConditionExpression: 'planCount > :zero',
          ExpressionAttributeValues: { ':one': { N: '1' }, ':zero': { N: '0' } },
        },
      },
    ]);
    if (!deleted) throw notFound(scope);
  }

  /** Every plan of the tenant (at most the bound, so one Query page); an outage throws. */
  async list(tenantId: string): Promise<StoredPlan[]> {
    const items = await queryByPrefix(this.client, this.tableName, partitionKey(tenantId), SORT_KEY_PREFIX);
    return items.map(toStoredPlan);
  }

  /** A new scope and the tenant's count, together; false when the scope exists or the count is full. */
  private addNew(tenantId: string, item: Record<string, AttributeValue>): Promise<boolean> {
    return this.transact([
      { Put: { TableName: this.tableName, Item: item, ConditionExpression: 'attribute_not_exists(SK)' } },
      {
        Update: {
          TableName: this.tableName,
          Key: countKey(tenantId),
          UpdateExpression: 'SET planCount = if_not_exists(planCount, :zero) + :one',
          ConditionExpression: 'attribute_not_exists(planCount) OR planCount < :limit',
          ExpressionAttributeValues: {
            ':zero': { N: '0' },
            ':one': { N: '1' },
            ':limit': { N: String(this.limit) },
          },
        },
      },
    ]);
  }

  /** Writes all or nothing; false when a condition (or a concurrent transaction) cancelled it. */
  private async transact(items: TransactWriteItem[]): Promise<boolean> {
    try {
      await callBackend(
        this.backend,
        () => this.client.send(new TransactWriteItemsCommand({ TransactItems: items })),
        (error) => (error instanceof TransactionCanceledException ? error : undefined),
      );
      return true;
    } catch (error) {
      if (error instanceof TransactionCanceledException) return false;
      throw error;
    }
  }

  /** Overwrites a scope that exists (its count is already taken); false when it does not. */
  private async replace(item: Record<string, AttributeValue>): Promise<boolean> {
    try {
      await callBackend(this.backend, () =>
        this.client.send(
          new PutItemCommand({
            TableName: this.tableName,
            Item: item,
            ConditionExpression: 'attribute_exists(SK)',
          }),
        ),
      );
      return true;
    } catch (error) {
      if ((error as Error).name === 'ConditionalCheckFailedException') return false;
      throw error;
    }
  }
}

/** The plan store as every process builds it, in the schema table its settings name. */
export function outOfBandPlanStoreFor(
  clients: StorageClients,
  settings: StorageSettings,
): OutOfBandPlanStore {
  return new OutOfBandPlanStore(clients.dynamodb, settings.schemaTableName);
}

const SORT_KEY_PREFIX = 'PLAN#';

/** `#` cannot occur in a selector or a service name (common/identifiers.ts), so the parts stay apart. */
function planKey(tenantId: string, scope: PlanScope): Record<string, AttributeValue> {
  const sortKey = `${SORT_KEY_PREFIX}${scope.selector}${scope.service ? `#${scope.service}` : ''}`;
  return { PK: { S: partitionKey(tenantId) }, SK: { S: sortKey } };
}

function countKey(tenantId: string): Record<string, AttributeValue> {
  return { PK: { S: partitionKey(tenantId) }, SK: { S: 'PLANS' } };
}

function toStoredPlan(item: Record<string, AttributeValue>): StoredPlan {
  return {
    selector: item.selector?.S ?? '',
    ...(item.service?.S ? { service: item.service.S } : {}),
    plan: JSON.parse(item.plan?.S ?? '{}') as RolloutPlan,
    updatedAt: item.updatedAt?.S ?? '',
    updatedBy: item.updatedBy?.S ?? '',
  };
}

function notFound(scope: PlanScope): NotFoundError {
  const where = scope.service ? ` for service ${scope.service}` : '';
  return new NotFoundError(`no out-of-band plan is set for "${scope.selector}"${where}`, 'selector');
}
