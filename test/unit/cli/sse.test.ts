import { EventStreamParser, readServerSentEvents, type ServerSentEvent } from '../../../cli/sse';

function parseAll(chunks: readonly string[]): ServerSentEvent[] {
  const parser = new EventStreamParser();
  return chunks.flatMap((chunk) => parser.push(chunk));
}

const STREAM =
  'event: progress\ndata: {"state":"BAKING"}\n\n: still running\n\nevent: end\ndata: {"state":"SUCCEEDED"}\n\n';

test('events come out whole however the stream is cut into chunks', () => {
  const whole = parseAll([STREAM]);
  expect(whole).toEqual([
    { type: 'progress', data: '{"state":"BAKING"}' },
    { type: 'end', data: '{"state":"SUCCEEDED"}' },
  ]);
  for (let cut = 1; cut < STREAM.length; cut += 1) {
    expect(parseAll([STREAM.slice(0, cut), STREAM.slice(cut)])).toEqual(whole);
  }
  expect(parseAll([...STREAM])).toEqual(whole);
});

test('comments (heartbeats) produce no events', () => {
  expect(parseAll([': still running\n\n', ':\n\n'])).toEqual([]);
});

test('several data lines join with newlines; an event without a type is a message', () => {
  expect(parseAll(['data: first\ndata: second\ndata:\ndata:  indented\n\n'])).toEqual([
    { type: 'message', data: 'first\nsecond\n\n indented' },
  ]);
});

test('CRLF and CR line endings, even a CRLF split across chunks, end lines once', () => {
  expect(parseAll(['event: progress\r\ndata: a\r', '\n\r\n'])).toEqual([{ type: 'progress', data: 'a' }]);
  expect(parseAll(['data: a\r\rdata: b\r\r'])).toEqual([
    { type: 'message', data: 'a' },
    { type: 'message', data: 'b' },
  ]);
});

test('unknown fields, id and retry are ignored; an event with no data is not dispatched', () => {
  expect(parseAll(['id: 7\nretry: 1000\nevent: progress\n\n', 'foo: bar\ndata: x\n\n'])).toEqual([
    { type: 'message', data: 'x' },
  ]);
});

test('a byte order mark opening the stream is skipped', () => {
  expect(parseAll(['\uFEFFdata: x\n\n'])).toEqual([{ type: 'message', data: 'x' }]);
});

test('a fetch body is read to its end, multi-byte characters split across chunks included; an unfinished event is dropped', async () => {
  const bytes = new TextEncoder().encode(
    'event: progress\ndata: "wave → 2"\n\nevent: progress\ndata: cut off',
  );
  const arrow = bytes.indexOf(0xe2);
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(bytes.slice(0, arrow + 1));
      controller.enqueue(bytes.slice(arrow + 1));
      controller.close();
    },
  });
  const events: ServerSentEvent[] = [];
  for await (const event of readServerSentEvents(body)) events.push(event);
  expect(events).toEqual([{ type: 'progress', data: '"wave → 2"' }]);
});
