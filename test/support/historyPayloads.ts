import type { temporal } from '@temporalio/proto';

const PATCH_MARKER = 'core_patch';
const LOCAL_ACTIVITY_MARKER = 'core_local_activity';

/**
 * Every payload of the history (inputs, results, failures, memo, headers) but the kinds Temporal writes
 * past the codec: search attributes, its index (tenant, key, state), which operators must read; the
 * SDK's patch markers (the id of a code change), written by the SDK's core itself; and, in a local
 * activity's marker, core's own record of the call (`data`: its sequence number, activity type, attempt
 * and times). The local activity's result in that marker goes through the codec, and is counted.
 */
export function payloadsIn(value: unknown, found: temporal.api.common.v1.IPayload[] = []) {
  if (value instanceof Uint8Array || value === null || typeof value !== 'object') return found;
  const markerName = (value as { markerName?: unknown }).markerName;
  if (isPayload(value)) found.push(value);
  else if (markerName === PATCH_MARKER) return found;
  else if (markerName === LOCAL_ACTIVITY_MARKER) {
    const { details, ...marker } = value as { details?: Record<string, unknown> };
    const { data: callRecord, ...results } = details ?? {};
    expect(callRecord).toBeDefined();
    for (const [field, child] of Object.entries(marker)) {
      if (field !== 'markerName') payloadsIn(child, found);
    }
    payloadsIn(results, found);
  } else {
    for (const [field, child] of Object.entries(value)) {
      if (field !== 'searchAttributes') payloadsIn(child, found);
    }
  }
  return found;
}

function isPayload(value: object): value is temporal.api.common.v1.IPayload {
  const metadata = (value as { metadata?: Record<string, unknown> }).metadata;
  return typeof metadata === 'object' && metadata !== null && metadata.encoding instanceof Uint8Array;
}

/**
 * The text's bytes at any alignment inside a base64 string: base64 of the text after 0, 1 or 2 other
 * bytes, without the 4-character groups that mix in bytes around it.
 */
export function base64Forms(text: string): string[] {
  return [0, 1, 2].map((offset) => {
    const encoded = Buffer.concat([Buffer.alloc(offset), Buffer.from(text)]).toString('base64');
    return encoded.slice(offset === 0 ? 0 : 4, -4);
  });
}

/** Every header field of the history (workflow start, activity schedules, updates), by name. */
export function headerFieldsIn(
  value: unknown,
  found: [string, temporal.api.common.v1.IPayload][] = [],
): [string, temporal.api.common.v1.IPayload][] {
  if (value instanceof Uint8Array || value === null || typeof value !== 'object') return found;
  for (const [field, child] of Object.entries(value)) {
    const fields = (child as { fields?: Record<string, temporal.api.common.v1.IPayload> } | null)?.fields;
    if (field === 'header' && fields) found.push(...Object.entries(fields));
    else headerFieldsIn(child, found);
  }
  return found;
}
