import {
  type EventBridgeClient,
  PutEventsCommand,
  PutRuleCommand,
  PutTargetsCommand,
} from '@aws-sdk/client-eventbridge';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';

/** The account moto answers as when none is configured. */
const MOTO_ACCOUNT = '123456789012';

/**
 * An EventBridge rule on the local stack's moto, with an SQS queue as its target in place of the
 * Lambda: events published to the bus are matched by EventBridge's own pattern logic (moto's), and the
 * ones the rule routes arrive on the queue in the shape a Lambda target receives. moto has no
 * TestEventPattern, so this is how the pattern is exercised for real.
 */
export class EventRuleOnMoto {
  private constructor(
    private readonly eventBridge: EventBridgeClient,
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
  ) {}

  static async create(
    clients: { eventBridge: EventBridgeClient; sqs: SQSClient },
    name: string,
    pattern: Record<string, unknown>,
  ): Promise<EventRuleOnMoto> {
    const { QueueUrl } = await clients.sqs.send(new CreateQueueCommand({ QueueName: `${name}-target` }));
    if (!QueueUrl) throw new Error(`moto created no queue for ${name}`);
    const { Attributes } = await clients.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }),
    );
    await clients.eventBridge.send(new PutRuleCommand({ Name: name, EventPattern: JSON.stringify(pattern) }));
    await clients.eventBridge.send(
      new PutTargetsCommand({ Rule: name, Targets: [{ Id: 'handler', Arn: Attributes?.QueueArn }] }),
    );
    return new EventRuleOnMoto(clients.eventBridge, clients.sqs, QueueUrl);
  }

  /** Publishes to the default bus as the AWS service would. */
  async publish(event: {
    source: string;
    detailType: string;
    detail: unknown;
    resources?: string[];
  }): Promise<void> {
    const { FailedEntryCount } = await this.eventBridge.send(
      new PutEventsCommand({
        Entries: [
          {
            Source: event.source,
            DetailType: event.detailType,
            Detail: JSON.stringify(event.detail),
            Resources: event.resources ?? [],
          },
        ],
      }),
    );
    if (FailedEntryCount) throw new Error('EventBridge (moto) refused the event');
  }

  /** The events the rule routed, waiting up to `waitSeconds` for the first; each is received once. */
  async receive(waitSeconds: number): Promise<unknown[]> {
    const { Messages } = await this.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: this.queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: waitSeconds,
      }),
    );
    if (!Messages?.length) return [];
    await this.sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: this.queueUrl,
        Entries: Messages.map((message, i) => ({ Id: String(i), ReceiptHandle: message.ReceiptHandle })),
      }),
    );
    return Messages.map((message) => withAccount(JSON.parse(message.Body ?? 'null') as unknown));
  }
}

/**
 * moto's default input template for a queue target leaves out the event's `account`, which AWS delivers
 * and the Lambda's EventBridge schema requires: put back the account moto runs as.
 */
function withAccount(event: unknown): unknown {
  return typeof event === 'object' && event !== null ? { account: MOTO_ACCOUNT, ...event } : event;
}
