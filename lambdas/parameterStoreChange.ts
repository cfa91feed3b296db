import { createAwsClients } from '../activities/awsClients';
import { configStoreFor } from '../activities/storage/configStore';
import { outOfBandPlanStoreFor } from '../activities/storage/outOfBandPlanStore';
import { InvalidArgumentError } from '../common/errors';
import { createLogger } from '../common/logger';
import { DEFAULT_OUT_OF_BAND_PLAN } from '../common/outOfBandPlans';
import { type RolloutPlan } from '../common/rollout';
import { planProblems } from '../common/rolloutPlan';
import { loadAwsSettings, loadStorageSettings, loadTemporalSettings } from '../common/settings';
import { createTemporalClient } from '../rolloutClient';
import { SpanStatusCode, trace } from '@opentelemetry/api';
import { startTracing } from '../common/tracing';
import { parseParameterStoreChange } from './parameterStoreChangeEvent';
import {
  type ChangeOutcome,
  type ParameterChangeDeps,
  rollOutParameterChange,
} from './rollOutParameterChange';

/**
 * EventBridge "Parameter Store Change" -> the staged rollout of the version now in Parameter Store, with
 * the plan the parameter's tenant set for the key (REST /v1/rollout-plans) or the default.
 * Thin on purpose: validate the event, hand it to rollOutParameterChange, return. A failure throws, so
 * EventBridge retries and, past its retry policy, the dead-letter queue keeps the event.
 */
const logger = createLogger({ component: 'parameter-store-change' });
// The out-of-band path's own trace: the invocation is its root, the workflow it starts its child.
const tracing = startTracing('lambda', logger);
const tracer = trace.getTracer('config-platform/lambda');

// One Temporal connection and one set of AWS clients per Lambda container, reused across invocations.
let dependencies: Promise<Omit<ParameterChangeDeps, 'log'>> | undefined;

export async function handler(event: unknown, context?: { awsRequestId?: string }): Promise<ChangeOutcome> {
  const change = parseParameterStoreChange(event);
  const log = logger.child({
    requestId: context?.awsRequestId,
    eventId: change.id,
    parameter: change.detail.name,
    operation: change.detail.operation,
  });
  dependencies ??= createDependencies().catch((error: unknown) => {
    dependencies = undefined; // the next invocation tries again
    throw error;
  });
  const ready = dependencies;
  return tracer.startActiveSpan(
    'ParameterStoreChange',
    { attributes: { 'config.parameter.operation': change.detail.operation, 'event.id': change.id } },
    async (span) => {
      try {
        const outcome = await rollOutParameterChange(change, {
          ...(await ready),
          log: (message, fields) => log.info(message, fields),
        });
        log.info('handled', { ...outcome });
        return outcome;
      } catch (error) {
        log.error('failed; EventBridge will retry', { error });
        span.setStatus({ code: SpanStatusCode.ERROR });
        throw error;
      } finally {
        span.end();
        // A Lambda is frozen between invocations: what it queued would wait, or be lost with the container.
        await tracing.flush();
      }
    },
  );
}

async function createDependencies(): Promise<Omit<ParameterChangeDeps, 'log'>> {
  const temporalSettings = loadTemporalSettings();
  const temporal = await createTemporalClient(temporalSettings, { traced: tracing.enabled });
  const clients = createAwsClients(loadAwsSettings());
  const storageSettings = loadStorageSettings();
  return {
    store: configStoreFor(clients, storageSettings),
    plans: outOfBandPlanStoreFor(clients, storageSettings),
    temporal,
    taskQueue: temporalSettings.taskQueue,
    plan: outOfBandPlan(process.env.OUT_OF_BAND_ROLLOUT_PLAN),
  };
}

/**
 * OUT_OF_BAND_ROLLOUT_PLAN, a JSON RolloutPlan, overrides the default for keys no tenant plan matches; a
 * bad one stops the container.
 */
export function outOfBandPlan(json: string | undefined): RolloutPlan {
  if (!json) return DEFAULT_OUT_OF_BAND_PLAN;
  let plan: RolloutPlan;
  try {
    plan = { ...DEFAULT_OUT_OF_BAND_PLAN, ...(JSON.parse(json) as Partial<RolloutPlan>) };
  } catch (error) {
    throw new InvalidArgumentError(
      `OUT_OF_BAND_ROLLOUT_PLAN is not JSON: ${(error as Error).message}`,
      'OUT_OF_BAND_ROLLOUT_PLAN',
    );
  }
  const problems = planProblems(plan);
  if (problems.length > 0) {
    throw new InvalidArgumentError(
      `OUT_OF_BAND_ROLLOUT_PLAN: ${problems.join('; ')}`,
      'OUT_OF_BAND_ROLLOUT_PLAN',
    );
  }
  return plan;
}
