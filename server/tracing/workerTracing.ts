import {
  makeWorkflowExporter,
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
} from '@temporalio/interceptors-opentelemetry';
import type { WorkerOptions } from '@temporalio/worker';
import type { Tracing } from '../../common/tracing';

/**
 * Temporal's OpenTelemetry interceptors for the workflows the worker bundles: they add no command to a
 * workflow (spans leave the sandbox through the `exporter` sink, which replay never calls), so histories
 * recorded with or without them replay alike (test/workflows/tracedReplays.test.ts).
 */
export const WORKFLOW_TRACING_MODULES: readonly string[] = [
  require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors'),
];

/**
 * What the worker adds to trace rollouts, when tracing is on: the workflow interceptors (RunWorkflow,
 * StartActivity spans, the context sent in activity headers), the activity interceptors (RunActivity, for
 * local activities too), and the sink that hands the workflows' spans to the process's span processor.
 * Off, nothing: the worker runs as it did before tracing existed.
 */
export function workerTracing(tracing: Tracing): Pick<WorkerOptions, 'interceptors' | 'sinks'> {
  if (!tracing.enabled) return {};
  return {
    interceptors: {
      workflowModules: [...WORKFLOW_TRACING_MODULES],
      activity: [
        (ctx) => ({
          inbound: new OpenTelemetryActivityInboundInterceptor(ctx),
          outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
        }),
      ],
    },
    sinks: { exporter: makeWorkflowExporter(tracing.spanProcessor, tracing.resource) },
  };
}
