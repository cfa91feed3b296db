import { temporal } from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import path from 'node:path';
import { ROLLOUT_SEARCH_ATTRIBUTES } from '../../common/searchAttributes';
import { loadTemporalSettings } from '../../common/settings';
import { toolPath } from '../../scripts/stack/index';
import { payloadCodecFor, temporalDataConverter } from '../../rolloutClient/payloadEncryption/dataConverter';
import { FAILURE_CONVERTER_PATH } from '../../server/payloadEncryption/workerDataConverter';

/** Encrypted as in production, with the local stack's key file. */
export const testCodec = payloadCodecFor(loadTemporalSettings().payloadEncryption);

/**
 * Temporal's time-skipping test server, with the search attributes the workflows set, and the
 * workflows bundled once: hour-long bakes and schedules take no wall time.
 */
export async function startTimeSkipping(): Promise<{
  env: TestWorkflowEnvironment;
  bundle: WorkflowBundleWithSourceMap;
}> {
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: toolPath('temporal-test-server') } },
    client: { dataConverter: temporalDataConverter(testCodec) },
  });
  // The test server starts with no custom search attributes; the dev server gets them from the stack script.
  await env.connection.operatorService.addSearchAttributes({
    namespace: 'default',
    searchAttributes: Object.fromEntries(
      ROLLOUT_SEARCH_ATTRIBUTES.map(({ name }) => [
        name,
        temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
      ]),
    ),
  });
  return { env, bundle: await bundleWorkflows() };
}

/** The workflows as the worker bundles them, failure converter included: what a replay runs. */
export function bundleWorkflows(): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({
    workflowsPath: path.join(__dirname, '..', '..', 'workflows'),
    failureConverterPath: FAILURE_CONVERTER_PATH,
  });
}

/** The same, started before a test file's tests and torn down after them. */
export function useTimeSkipping(): {
  readonly env: TestWorkflowEnvironment;
  readonly bundle: WorkflowBundleWithSourceMap;
} {
  let started: Awaited<ReturnType<typeof startTimeSkipping>> | undefined;
  beforeAll(async () => {
    started = await startTimeSkipping();
  }, 120_000);
  afterAll(() => started?.env.teardown());
  const get = () => {
    if (!started) throw new Error('the time-skipping server starts in beforeAll');
    return started;
  };
  return {
    get env() {
      return get().env;
    },
    get bundle() {
      return get().bundle;
    },
  };
}
