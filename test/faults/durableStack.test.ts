import {
  ConditionalCheckFailedException,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import {
  CreateServiceCommand,
  DiscoverInstancesCommand,
  ListInstancesCommand,
  ListNamespacesCommand,
  RegisterInstanceCommand,
} from '@aws-sdk/client-servicediscovery';
import {
  GetParameterHistoryCommand,
  LabelParameterVersionCommand,
  PutParameterCommand,
} from '@aws-sdk/client-ssm';
import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import {
  bundleWorkflowCode,
  NativeConnection,
  Worker,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import { createAwsClients, destroyAwsClients, type AwsClients } from '../../activities/awsClients';
import { DEFAULT_CLOUD_MAP_NAMESPACE } from '../../common/cloudMap';
import { ROLLOUT_SEARCH_ATTRIBUTES } from '../../common/searchAttributes';
import { loadAwsSettings, loadStorageSettings } from '../../common/settings';
import { STACK_HOST } from '../../scripts/stack/index';
import { addNote, finish, notes, notesWorkflow } from '../support/notesWorkflow';
import { type PrivateStack, startPrivateStack, STATEFUL_SERVERS } from '../support/privateStack';

/**
 * The local stack keeps what it was given: Temporal in its SQLite file, each moto server in its
 * journal, replayed before the server answers. Tried by hand before: a killed Temporal lost every
 * rollout (404), a restarted moto every parameter and registration, and `stack down`/`up` all of it.
 * This runs a private stack of its own (test/support/privateStack.ts) through the stack's own
 * lifecycle, so the stack the other test files share is never touched.
 */
const taskQueue = `durable-stack-${process.pid}`;
const workflowId = `notes-${process.pid}`;
const parameter = `/durable-stack/${process.pid}/endpoint`;
const serviceName = `durable-${process.pid}`;
let stack: PrivateStack;
let clients: AwsClients;
let bundle: WorkflowBundleWithSourceMap | undefined;
let table: string;

beforeAll(async () => {
  stack = await startPrivateStack('durable-stack');
  clients = createAwsClients(loadAwsSettings());
  table = loadStorageSettings().tableName;
}, 60_000);

afterAll(async () => {
  if (clients) destroyAwsClients(clients);
  await stack?.close();
});

const withTemporal = <T>(fn: (client: Client) => Promise<T>): Promise<T> => stack.withTemporal(fn);

/** Runs a worker for the notes workflow while `fn` runs. */
async function withWorker<T>(fn: () => Promise<T>): Promise<T> {
  const connection = await NativeConnection.connect({
    address: `${STACK_HOST}:${process.env.TEMPORAL_PORT}`,
  });
  try {
    bundle ??= await bundleWorkflowCode({ workflowsPath: require.resolve('../support/notesWorkflow') });
    const worker = await Worker.create({ connection, taskQueue, workflowBundle: bundle });
    return await worker.runUntil(fn);
  } finally {
    await connection.close();
  }
}

async function writeConfig(): Promise<string> {
  const key = { PK: { S: 'TENANT#durable' }, SK: { S: 'CONFIG#tenant_config_flags' } };
  await clients.dynamodb.send(
    new PutItemCommand({
      TableName: table,
      Item: { ...key, version: { N: '1' }, value: { S: 'one' } },
      ConditionExpression: 'attribute_not_exists(PK)',
    }),
  );
  const update = (from: string, to: string, value: string) =>
    clients.dynamodb.send(
      new UpdateItemCommand({
        TableName: table,
        Key: key,
        UpdateExpression: 'SET version = :to, #value = :value',
        ConditionExpression: 'version = :from',
        ExpressionAttributeNames: { '#value': 'value' },
        ExpressionAttributeValues: { ':from': { N: from }, ':to': { N: to }, ':value': { S: value } },
      }),
    );
  await update('1', '2', 'two');
  // Refused, so not journaled: a replay that ran it would not be refused the same way.
  await expect(update('1', '2', 'lost')).rejects.toBeInstanceOf(ConditionalCheckFailedException);

  await clients.ssm.send(new PutParameterCommand({ Name: parameter, Value: 'http://a', Type: 'String' }));
  await clients.ssm.send(
    new PutParameterCommand({ Name: parameter, Value: 'http://b', Type: 'String', Overwrite: true }),
  );
  await clients.ssm.send(
    new LabelParameterVersionCommand({ Name: parameter, ParameterVersion: 1, Labels: ['live'] }),
  );

  const { Namespaces } = await clients.serviceDiscovery.send(new ListNamespacesCommand({}));
  const namespace = Namespaces?.find((candidate) => candidate.Name === DEFAULT_CLOUD_MAP_NAMESPACE);
  const { Service } = await clients.serviceDiscovery.send(
    new CreateServiceCommand({ Name: serviceName, NamespaceId: namespace?.Id }),
  );
  await clients.serviceDiscovery.send(
    new RegisterInstanceCommand({
      ServiceId: Service?.Id,
      InstanceId: 'instance-1',
      Attributes: { AWS_INSTANCE_IPV4: '127.0.0.1', AWS_INSTANCE_PORT: '7000', tenant: 'durable' },
    }),
  );
  return Service!.Id!;
}

/** Everything the test wrote, as the stack answers it now. */
async function snapshot(serviceId: string) {
  const item = await clients.dynamodb.send(
    new GetItemCommand({
      TableName: table,
      Key: { PK: { S: 'TENANT#durable' }, SK: { S: 'CONFIG#tenant_config_flags' } },
      ConsistentRead: true,
    }),
  );
  const history = await clients.ssm.send(new GetParameterHistoryCommand({ Name: parameter }));
  const listed = await clients.serviceDiscovery.send(new ListInstancesCommand({ ServiceId: serviceId }));
  const discovered = await clients.serviceDiscovery.send(
    new DiscoverInstancesCommand({ NamespaceName: DEFAULT_CLOUD_MAP_NAMESPACE, ServiceName: serviceName }),
  );
  const workflow = await withTemporal(async (client) => {
    const handle = client.workflow.getHandle(workflowId);
    const { events } = await handle.fetchHistory();
    return { status: (await handle.describe()).status.name, events: events?.map((event) => event.eventType) };
  });
  return {
    item: item.Item,
    parameterVersions: history.Parameters?.map(({ Version, Value, Labels, LastModifiedDate }) => ({
      Version,
      Value,
      Labels,
      LastModifiedDate,
    })),
    instances: listed.Instances,
    discovered: discovered.Instances?.map(({ InstanceId, Attributes }) => ({ InstanceId, Attributes })),
    workflow,
  };
}

test('a SIGKILLed Temporal and moto come back with every item, parameter version, label, registration and workflow; the workflow then finishes', async () => {
  const serviceId = await writeConfig();
  await withWorker(() =>
    withTemporal(async (client) => {
      const handle = await client.workflow.start(notesWorkflow, { taskQueue, workflowId });
      await handle.signal(addNote, 'before the kill');
      await expect(handle.query(notes)).resolves.toEqual(['before the kill']);
    }),
  );
  const before = await snapshot(serviceId);
  expect(before.item?.value).toEqual({ S: 'two' });
  expect(before.parameterVersions?.map(({ Version, Labels }) => [Version, Labels])).toEqual([
    [1, ['live']],
    [2, []],
  ]);
  expect(before.discovered).toHaveLength(1);
  expect(before.workflow.status).toBe('RUNNING');

  await stack.kill(...STATEFUL_SERVERS);
  await stack.up();

  expect(await snapshot(serviceId)).toEqual(before);
  // Registered again at each start; on an existing database that must neither fail nor drop them.
  const { customAttributes } = await withTemporal((client) =>
    client.connection.operatorService.listSearchAttributes({ namespace: 'default' }),
  );
  for (const { name } of ROLLOUT_SEARCH_ATTRIBUTES) expect(customAttributes).toHaveProperty(name);
  const result = await withWorker(() =>
    withTemporal(async (client) => {
      const handle = client.workflow.getHandle<typeof notesWorkflow>(workflowId);
      await handle.signal(addNote, 'after the restart');
      await handle.signal(finish);
      return handle.result();
    }),
  );
  expect(result).toEqual(['before the kill', 'after the restart']);
}, 60_000);

test('`stack down` then `up` keeps the data; `stack reset` deletes it', async () => {
  const { Parameters } = await clients.ssm.send(new GetParameterHistoryCommand({ Name: parameter }));
  expect(Parameters).toHaveLength(2);

  await stack.down();
  await stack.up();
  await expect(clients.ssm.send(new GetParameterHistoryCommand({ Name: parameter }))).resolves.toMatchObject({
    Parameters: [{ Version: 1, Labels: ['live'] }, { Version: 2 }],
  });
  const completed = await withTemporal(
    async (client) => (await client.workflow.getHandle(workflowId).describe()).status.name,
  );
  expect(completed).toBe('COMPLETED');

  await stack.reset();
  await stack.up();
  await expect(clients.ssm.send(new GetParameterHistoryCommand({ Name: parameter }))).rejects.toMatchObject({
    name: 'ParameterNotFound',
  });
  await expect(
    withTemporal((client) => client.workflow.getHandle(workflowId).describe()),
  ).rejects.toBeInstanceOf(WorkflowNotFoundError);
}, 60_000);
