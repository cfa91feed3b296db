import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SQSClient } from '@aws-sdk/client-sqs';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { loadAwsSettings } from '../../common/settings';
import { EventRuleOnMoto } from '../../scripts/eventRuleOnMoto';
import { parameterStoreRulePattern } from '../../scripts/parameterStoreRule';

/**
 * The deployed rule's event pattern, read from deploy/template.yaml, on EventBridge (moto): AWS-shaped
 * events are published to the bus and only those under /config-service/ are routed to the target.
 */
const FIXTURES = path.join(__dirname, '..', '..', '..', 'shared', 'fixtures');
const { region } = loadAwsSettings();
const eventBridge = new EventBridgeClient({ region, endpoint: process.env.AWS_ENDPOINT_URL_EVENTBRIDGE });
const sqs = new SQSClient({ region, endpoint: process.env.AWS_ENDPOINT_URL_EVENTBRIDGE });
let rule: EventRuleOnMoto;

beforeAll(async () => {
  rule = await EventRuleOnMoto.create(
    { eventBridge, sqs },
    `rule-test-${randomUUID().slice(0, 8)}`,
    parameterStoreRulePattern(),
  );
});

afterAll(() => {
  eventBridge.destroy();
  sqs.destroy();
});

type Event = { source: string; 'detail-type': string; resources?: string[]; detail: Record<string, unknown> };

/** Publishes the event and says whether the rule routed it to its target. */
async function routed(event: Event): Promise<boolean> {
  await rule.publish({
    source: event.source,
    detailType: event['detail-type'],
    detail: event.detail,
    resources: event.resources,
  });
  const delivered = (await rule.receive(1)) as Event[];
  return delivered.some((candidate) => candidate.detail.name === event.detail.name);
}

const fixture = (file: string) => JSON.parse(readFileSync(path.join(FIXTURES, file), 'utf8')) as Event;
const inTree = readdirSync(FIXTURES).filter(
  (file) => file.endsWith('.json') && file !== 'ssm-change-outside-tree.json',
);

test.each(inTree)('%s is routed', async (file) => {
  expect(await routed(fixture(file))).toBe(true);
});

test('a change outside the tree is not routed', async () => {
  expect(await routed(fixture('ssm-change-outside-tree.json'))).toBe(false);
});

test.each([
  [
    'a sibling tree sharing the prefix without its slash',
    { name: '/config-service-other/acme/orders/param_config_x' },
  ],
  ['the tree root itself', { name: '/config-service' }],
  ['an operation the rule does not list', { operation: 'UnlabelParameterVersion' }],
])('%s is not routed', async (_case, detail) => {
  const event = fixture('ssm-change-update.json');
  expect(await routed({ ...event, detail: { ...event.detail, ...detail } })).toBe(false);
});

test('another source or detail type is not routed', async () => {
  const event = fixture('ssm-change-update.json');
  expect(await routed({ ...event, source: 'aws.ec2' })).toBe(false);
  expect(await routed({ ...event, 'detail-type': 'Parameter Store Policy Action' })).toBe(false);
});
