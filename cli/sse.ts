import { errorMessage } from '../common/errors';

/**
 * Server-sent events (the WHATWG HTML "event stream" format), read from a fetch body. Only what the
 * rollout stream uses is kept: `event` and `data`. `id` and `retry` serve reconnection, which this
 * client does not do (a closed stream ends the watch), so they are ignored like any unknown field.
 */
export interface ServerSentEvent {
  /** The `event:` field; `message` when the event names none. */
  readonly type: string;
  /** The `data:` lines, joined with newlines. */
  readonly data: string;
}

/** Incremental parser: feed it decoded text in chunks of any size, take the events each chunk completes. */
export class EventStreamParser {
  private buffer = '';
  /** A chunk ended in CR: an LF opening the next chunk belongs to the same line ending. */
  private skipLeadingLf = false;
  private atStreamStart = true;
  private type = '';
  private data: string[] = [];

  push(chunk: string): ServerSentEvent[] {
    if (chunk === '') return [];
    let text = chunk;
    if (this.skipLeadingLf && text.startsWith('\n')) text = text.slice(1);
    this.skipLeadingLf = false;
    // A byte order mark may open the stream; it is not part of the first line.
    if (this.atStreamStart && text.startsWith('\uFEFF')) text = text.slice(1);
    this.atStreamStart = false;
    this.buffer += text;

    const events: ServerSentEvent[] = [];
    // Lines end in CRLF, LF or CR alone.
    const lineEnd = /\r\n|\n|\r/g;
    let consumed = 0;
    for (let match = lineEnd.exec(this.buffer); match; match = lineEnd.exec(this.buffer)) {
      // A CR at the very end may be the first half of a CRLF split across chunks.
      if (match[0] === '\r' && match.index === this.buffer.length - 1) this.skipLeadingLf = true;
      const event = this.line(this.buffer.slice(consumed, match.index));
      if (event) events.push(event);
      consumed = match.index + match[0].length;
    }
    this.buffer = this.buffer.slice(consumed);
    return events;
  }

  private line(line: string): ServerSentEvent | undefined {
    if (line === '') return this.dispatch();
    // A comment: the server's heartbeat that keeps proxies from closing an idle stream.
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.type = value;
    else if (field === 'data') this.data.push(value);
    return undefined;
  }

  /** A blank line ends an event; one without data is dropped, as the spec says. */
  private dispatch(): ServerSentEvent | undefined {
    const event =
      this.data.length > 0 ? { type: this.type || 'message', data: this.data.join('\n') } : undefined;
    this.type = '';
    this.data = [];
    return event;
  }
}

/**
 * The events of a stream until it closes. An event the stream cut off before its blank line is dropped,
 * as the spec says. Stopping the iteration (a `break`) cancels the stream.
 */
export async function* readServerSentEvents(
  body: ReadableStream<Uint8Array>,
): AsyncGenerator<ServerSentEvent, void, undefined> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const parser = new EventStreamParser();
  try {
    for (;;) {
      const { done, value } = await reader.read().catch((error: unknown) => {
        throw new EventStreamBrokenError(errorMessage(error), {
          cause: error,
        });
      });
      if (done) return;
      yield* parser.push(decoder.decode(value, { stream: true }));
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

/** The connection under an event stream broke before the stream ended (fetch says "terminated"). */
export class EventStreamBrokenError extends Error {}
