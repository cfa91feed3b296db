import { setTimeout as sleep } from 'node:timers/promises';
import { paginateDescribeParameters, type ParameterMetadata } from '@aws-sdk/client-ssm';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SQSClient } from '@aws-sdk/client-sqs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, Counter, Registry } from 'prom-client';
import { createAwsClients } from '../activities/awsClients';
import { answerMetrics } from '../common/metricsEndpoint';
import { SSM_ROOT } from '../common/constants';
import { createLogger } from '../common/logger';
import { loadAwsSettings } from '../common/settings';
import { handler } from '../lambdas/parameterStoreChange';
import { EventRuleOnMoto } from './eventRuleOnMoto';
import { parameterStoreRulePattern } from './parameterStoreRule';
import { errorMessage } from '../common/errors';

/**
 * LOCAL STAND-IN FOR THE AWS EVENT SOURCE AND LAMBDA INVOKER (local stack only). moto does not emit
 * Parameter Store Change events, nor invoke Lambdas. So this watches moto's Parameter Store and, for each
 * new version or deleted parameter, publishes the event AWS would to EventBridge (moto), where a rule with
 * the deployed pattern routes it to a queue standing in for the Lambda target; what arrives there is
 * handed to the Lambda's handler. LOCAL_EVENTBRIDGE_DUPLICATES=true delivers each twice, as EventBridge
 * may. It does not see LabelParameterVersion (moto's DescribeParameters shows no labels).
 */
const logger = createLogger({ component: 'local-eventbridge' });
const POLL_MS = Number(process.env.LOCAL_EVENTBRIDGE_POLL_MS ?? 1000);
const DUPLICATES = process.env.LOCAL_EVENTBRIDGE_DUPLICATES === 'true';
const port = Number(process.env.LOCAL_EVENTBRIDGE_PORT ?? 8092);
/** Where to watch: the whole tree, or (tests sharing one Parameter Store) a subtree of it. */
const WATCHED_PATH = process.env.LOCAL_EVENTBRIDGE_PATH ?? SSM_ROOT;

/**
 * What an operator must hear about this path: edits the handler failed on (on AWS, the Lambda's own
 * `Errors` metric and its retries) and polls that fail (nothing is delivered meanwhile). Served beside
 * /healthz on the stand-in's port; the labels are fixed words, never a parameter's name or value.
 */
const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'cfg_local_eventbridge_' });
const deliveries = new Counter({
  name: 'cfg_out_of_band_deliveries_total',
  help: "Parameter Store change events handed to the Lambda's handler, by its outcome (failed: it threw)",
  labelNames: ['outcome'] as const,
  registers: [registry],
});
const polls = new Counter({
  name: 'cfg_out_of_band_polls_total',
  help: "The stand-in's polls of Parameter Store and its event queue, by result",
  labelNames: ['result'] as const,
  registers: [registry],
});

const settings = loadAwsSettings();
const { ssm } = createAwsClients(settings);
const eventBridge = new EventBridgeClient({
  region: settings.region,
  endpoint: process.env.AWS_ENDPOINT_URL_EVENTBRIDGE,
});
const sqs = new SQSClient({ region: settings.region, endpoint: process.env.AWS_ENDPOINT_URL_EVENTBRIDGE });

async function snapshot(): Promise<Map<string, ParameterMetadata>> {
  const parameters = new Map<string, ParameterMetadata>();
  const pages = paginateDescribeParameters(
    { client: ssm, pageSize: 50 },
    { ParameterFilters: [{ Key: 'Path', Option: 'Recursive', Values: [WATCHED_PATH] }] },
  );
  for await (const page of pages)
    for (const parameter of page.Parameters ?? [])
      if (parameter.Name) parameters.set(parameter.Name, parameter);
  return parameters;
}

async function publish(rule: EventRuleOnMoto, operation: string, name: string, type: string | undefined) {
  await rule.publish({
    source: 'aws.ssm',
    detailType: 'Parameter Store Change',
    detail: { operation, name, type: type ?? 'String' },
    resources: [`arn:aws:ssm:${settings.region}:123456789012:parameter${name}`],
  });
}

/**
 * Hands the events the rule routed to the handler, as the Lambda service would. The rule sees the whole
 * bus, where other publishers (tests, another stand-in) put events too: only the watched subtree is ours.
 */
async function deliverRouted(rule: EventRuleOnMoto): Promise<void> {
  for (const event of await rule.receive(0)) {
    const parameter = (event as { detail?: { name?: unknown } }).detail?.name;
    if (typeof parameter !== 'string' || !isWatched(parameter)) continue;
    for (let copy = 1; copy <= (DUPLICATES ? 2 : 1); copy += 1) {
      try {
        const handled = await handler(event);
        deliveries.inc({ outcome: handled.outcome });
        logger.info('delivered', { copy, parameter, ...handled });
      } catch (error) {
        deliveries.inc({ outcome: 'failed' });
        // EventBridge would retry; this stand-in does not, so say so plainly.
        logger.error('the handler failed; an AWS deployment would retry this event', { error });
      }
    }
  }
}

function isWatched(name: string): boolean {
  return name.startsWith(WATCHED_PATH.endsWith('/') ? WATCHED_PATH : `${WATCHED_PATH}/`);
}

/** What /healthz answers: healthy only while polls go through, so a broken bus is never silent. */
let health: { readonly healthy: boolean; readonly reason?: string } = { healthy: false, reason: 'starting' };

/**
 * Polls for ever. A poll that fails (the emulator restarted and lost the rule or its queue, say) marks
 * the stand-in unhealthy and has the rule and its queue made again on the next poll.
 */
async function watch(): Promise<void> {
  let rule: EventRuleOnMoto | undefined;
  let known: Map<string, ParameterMetadata> | undefined;
  for (;;) {
    try {
      rule ??= await EventRuleOnMoto.create(
        { eventBridge, sqs },
        process.env.LOCAL_EVENTBRIDGE_RULE ?? 'config-service-parameter-store-change',
        parameterStoreRulePattern(),
      );
      if (!known) {
        known = await snapshot();
        logger.info('watching Parameter Store for changes', {
          path: WATCHED_PATH,
          parameters: known.size,
          duplicates: DUPLICATES,
        });
      }
      const current = await snapshot();
      for (const [name, parameter] of current) {
        const before = known.get(name);
        if (!before) await publish(rule, 'Create', name, parameter.Type);
        else if ((parameter.Version ?? 0) > (before.Version ?? 0))
          await publish(rule, 'Update', name, parameter.Type);
      }
      for (const [name, parameter] of known) {
        if (!current.has(name)) await publish(rule, 'Delete', name, parameter.Type);
      }
      known = current;
      await deliverRouted(rule);
      if (!health.healthy) logger.info('polling again');
      health = { healthy: true };
      polls.inc({ result: 'ok' });
    } catch (error) {
      const reason = `the last poll failed: ${errorMessage(error)}`;
      if (health.healthy || health.reason !== reason) {
        logger.warn('poll failed; the rule and its queue are made again on the next poll', { error });
      }
      health = { healthy: false, reason };
      polls.inc({ result: 'failed' });
      rule = undefined;
    }
    await sleep(POLL_MS);
  }
}

const healthServer = createServer((request, response) => {
  if (answerMetrics(registry, request, response)) return;
  if (request.url !== '/healthz') {
    response.writeHead(404).end();
    return;
  }
  response
    .writeHead(health.healthy ? 200 : 503, { 'content-type': 'application/json' })
    .end(JSON.stringify(health.healthy ? { status: 'ok' } : { status: 'unhealthy', reason: health.reason }));
}).listen(port, '127.0.0.1', () => {
  logger.info('health endpoint listening', { healthPort: (healthServer.address() as AddressInfo).port });
});
void watch();
