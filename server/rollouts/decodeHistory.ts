import type { Payload, PayloadCodec } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/**
 * The events as the client that wrote them would read them: every payload opened by the client's codecs
 * (histories hold them sealed), and failure messages the worker sealed restored. In place: a fetched
 * history is the caller's own copy, and its other fields (int64s as Longs) stay as they are.
 */
export async function decodeHistoryEvents(
  events: HistoryEvent[],
  codecs: readonly PayloadCodec[],
): Promise<HistoryEvent[]> {
  if (codecs.length > 0) await Promise.all(events.map((event) => decodeWithin(event, codecs)));
  return events;
}

async function decodeWithin(node: object, codecs: readonly PayloadCodec[]): Promise<void> {
  await Promise.all(
    Object.entries(node).map(async ([field, value]: [string, unknown]) => {
      if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return;
      if (isPayload(value)) {
        (node as Record<string, unknown>)[field] = await decodePayload(value, codecs);
        return;
      }
      await decodeWithin(value, codecs);
    }),
  );
  restoreFailureMessage(node);
}

async function decodePayload(payload: Payload, codecs: readonly PayloadCodec[]): Promise<Payload> {
  let decoded = [payload];
  for (const codec of [...codecs].reverse()) decoded = await codec.decode(decoded);
  return decoded[0] ?? payload;
}

/** A failure whose message and stack trace the worker moved into `encodedAttributes` (now decoded). */
function restoreFailureMessage(node: object): void {
  const failure = node as {
    encodedAttributes?: Payload | null;
    message?: string | null;
    stackTrace?: string | null;
  };
  if (!failure.encodedAttributes?.data || !isPayload(failure.encodedAttributes)) return;
  try {
    const attributes = JSON.parse(Buffer.from(failure.encodedAttributes.data).toString('utf8')) as {
      message?: unknown;
      stack_trace?: unknown;
    };
    if (typeof attributes.message === 'string') failure.message = attributes.message;
    if (typeof attributes.stack_trace === 'string') failure.stackTrace = attributes.stack_trace;
  } catch {
    // Still sealed (another key) or not JSON: the failure keeps the message it has.
  }
}

function isPayload(value: object): value is Payload {
  const metadata = (value as { metadata?: unknown }).metadata;
  return (
    typeof metadata === 'object' &&
    metadata !== null &&
    (metadata as Record<string, unknown>).encoding instanceof Uint8Array
  );
}
