import { authorization, problemOf } from './api';

/**
 * Reads a server-sent event stream with fetch, because EventSource cannot send an Authorization header
 * (and a token in the URL would leak into logs). Reconnects after the server's `retry:` when the stream
 * drops or the server says it is shutting down; stops for good on `end`, an `error` event, or `stop()`.
 */
export interface StreamHandlers {
  readonly onEvent: (event: string, data: unknown) => void;
  readonly onProblem: (message: string) => void;
}

const DEFAULT_RETRY_MS = 2_000;
const FINAL_EVENTS = new Set(['end', 'error']);

export function followStream(url: string, handlers: StreamHandlers): { stop: () => void } {
  const controller = new AbortController();
  let retryMs = DEFAULT_RETRY_MS;

  const connect = async (): Promise<void> => {
    while (!controller.signal.aborted) {
      let final = false;
      try {
        const response = await fetch(url, { headers: authorization(), signal: controller.signal });
        if (!response.ok || !response.body) {
          handlers.onProblem((await problemOf(response)).message);
          return;
        }
        final = await readEvents(
          response.body,
          (field, value) => {
            if (field === 'retry' && /^\d+$/.test(value)) retryMs = Number(value);
          },
          (event, data) => {
            handlers.onEvent(event, data);
            return FINAL_EVENTS.has(event);
          },
        );
      } catch (error) {
        if (controller.signal.aborted) return;
        if ((error as { status?: number }).status === 401) return;
      }
      if (final) return;
      await new Promise((resolve) => setTimeout(resolve, retryMs));
    }
  };
  void connect();
  return { stop: () => controller.abort() };
}

/** Parses the stream until it closes; true when an event said the stream is over. */
async function readEvents(
  body: ReadableStream<Uint8Array>,
  onField: (field: string, value: string) => void,
  onEvent: (event: string, data: unknown) => boolean,
): Promise<boolean> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let event = 'message';
  let data: string[] = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return false;
    buffer += decoder.decode(value, { stream: true });
    let newline: number;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, newline).replace(/\r$/, '');
      buffer = buffer.slice(newline + 1);
      if (line === '') {
        if (data.length > 0 && onEvent(event, JSON.parse(data.join('\n')))) {
          await reader.cancel();
          return true;
        }
        event = 'message';
        data = [];
      } else if (!line.startsWith(':')) {
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const fieldValue = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') event = fieldValue;
        else if (field === 'data') data.push(fieldValue);
        else onField(field, fieldValue);
      }
    }
  }
}
