import { type Context, propagation, type TextMapGetter, type TextMapSetter } from '@opentelemetry/api';
import type * as grpc from '@grpc/grpc-js';

/**
 * W3C trace context (`traceparent`, `tracestate`) in gRPC metadata: the rollout worker writes the active
 * span's into each CacheRefresh call and the instance reads it back, so its span joins the rollout's trace.
 * With no tracer provider installed, the propagator is the API's no-op and neither side does anything.
 */
const setter: TextMapSetter<grpc.Metadata> = {
  set: (metadata, key, value) => metadata.set(key, value),
};

const getter: TextMapGetter<grpc.Metadata> = {
  keys: (metadata) => Object.keys(metadata.getMap()),
  get: (metadata, key) => {
    const values = metadata.get(key).filter((value): value is string => typeof value === 'string');
    return values.length === 0 ? undefined : values;
  },
};

/** Writes the trace context of `context` into `metadata`. */
export function injectTraceContext(context: Context, metadata: grpc.Metadata): void {
  propagation.inject(context, metadata, setter);
}

/**
 * `parent` with the caller's trace context from `metadata`, if it carries a valid one: a malformed
 * `traceparent` is ignored (W3C Trace Context), and the result only ever parents spans, never grants.
 */
export function extractTraceContext(parent: Context, metadata: grpc.Metadata): Context {
  return propagation.extract(parent, metadata, getter);
}
