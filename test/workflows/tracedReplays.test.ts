import type { PayloadCodec } from '@temporalio/common';
import { makeWorkflowExporter } from '@temporalio/interceptors-opentelemetry';
import { bundleWorkflowCode, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { Resource } from '@opentelemetry/resources';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import {
  FAILURE_CONVERTER_PATH,
  workerDataConverter,
} from '../../server/payloadEncryption/workerDataConverter';
import { WORKFLOW_TRACING_MODULES } from '../../server/tracing/workerTracing';
import { recordedHistory } from '../support/recordedHistories';
import { testCodec } from '../support/timeSkipping';

/**
 * With tracing on, the worker bundles Temporal's OpenTelemetry workflow interceptors with the workflows
 * (server/tracing/workerTracing.ts). They must add no command, or a rollout recorded untraced would fail
 * to replay on a traced worker (and the reverse): every history recorded under histories/ replays with
 * them installed, the sink that exports workflow spans registered as the worker registers it.
 */
const HISTORIES = readdirSync(path.join(__dirname, 'histories')).filter((file) => file.endsWith('.json'));
// Recorded on a worker without payload encryption (freezeGate.test.ts).
const PLAIN: ReadonlySet<string> = new Set(['rollout-held-by-freeze.json']);
const plain: PayloadCodec = { encode: async (payloads) => payloads, decode: async (payloads) => payloads };

let bundle: WorkflowBundleWithSourceMap;

beforeAll(async () => {
  bundle = await bundleWorkflowCode({
    workflowsPath: path.join(__dirname, '..', '..', 'workflows'),
    failureConverterPath: FAILURE_CONVERTER_PATH,
    workflowInterceptorModules: [...WORKFLOW_TRACING_MODULES],
  });
}, 120_000);

test('the histories are there to replay', () => {
  expect(HISTORIES.length).toBeGreaterThanOrEqual(26);
});

test.each(HISTORIES)('%s replays with the tracing interceptors installed', async (file) => {
  const exporter = new InMemorySpanExporter();
  await expect(
    Worker.runReplayHistory(
      {
        workflowBundle: bundle,
        dataConverter: workerDataConverter(PLAIN.has(file) ? plain : testCodec),
        sinks: {
          exporter: makeWorkflowExporter(new SimpleSpanProcessor(exporter), new Resource({})),
        },
      },
      recordedHistory(file),
    ),
  ).resolves.toBeUndefined();
});
