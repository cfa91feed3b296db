/**
 * npx tsx scripts/show-trace.ts <trace id | REST rollout id>
 * Prints a trace from the local stack's Jaeger as a tree: each span's service, name, duration and the
 * attributes an operator reads (instance, status, outcome). Jaeger built from its Go module serves its
 * query API without the web UI's assets, so this is how the demo looks at a rollout's trace.
 */
import { traceQueryUrl } from './stack/index';

interface Span {
  readonly spanID: string;
  readonly operationName: string;
  readonly references: readonly { refType: string; spanID: string }[];
  readonly startTime: number;
  readonly duration: number;
  readonly processID: string;
  readonly tags: readonly { key: string; value: unknown }[];
}
interface Trace {
  readonly traceID: string;
  readonly spans: readonly Span[];
  readonly processes: Record<string, { serviceName: string }>;
}

const SHOWN_TAGS = [
  'config.instance_id',
  'rpc.grpc.status_code',
  'config.refresh.outcome',
  'http.response.status_code',
];

async function query(path: string): Promise<Trace[]> {
  const response = await fetch(`${traceQueryUrl()}${path}`);
  if (!response.ok) throw new Error(`Jaeger answered ${response.status} for ${path}`);
  return ((await response.json()) as { data?: Trace[] }).data ?? [];
}

/** A trace id as it is; a REST rollout id (`<run id>~<key>`) through the worker's push spans. */
async function findTrace(id: string): Promise<Trace | undefined> {
  if (/^[0-9a-f]{32}$/.test(id)) return (await query(`/api/traces/${id}`))[0];
  const runId = id.split('~')[0] ?? id;
  const search = new URLSearchParams({
    service: 'rollout-worker',
    tags: JSON.stringify({ 'config.rollout_id': runId }),
    lookback: '24h',
    limit: '1',
  });
  const [found] = await query(`/api/traces?${search.toString()}`);
  return found && (await query(`/api/traces/${found.traceID}`))[0];
}

function render(trace: Trace): string[] {
  const ids = new Set(trace.spans.map((span) => span.spanID));
  const parentOf = (span: Span) => span.references.find((ref) => ref.refType === 'CHILD_OF')?.spanID;
  const children = new Map<string | undefined, Span[]>();
  for (const span of trace.spans) {
    const parent = parentOf(span);
    // A parent outside the trace (the caller's own span) makes its child a root here.
    const key = parent !== undefined && ids.has(parent) ? parent : undefined;
    children.set(key, [...(children.get(key) ?? []), span]);
  }
  const lines: string[] = [];
  const walk = (parent: string | undefined, depth: number) => {
    const spans = [...(children.get(parent) ?? [])].sort((a, b) => a.startTime - b.startTime);
    for (const span of spans) {
      const service = trace.processes[span.processID]?.serviceName ?? '?';
      const tags = span.tags
        .filter((tag) => SHOWN_TAGS.includes(tag.key))
        .map((tag) => `${tag.key}=${String(tag.value)}`)
        .join(' ');
      const ms = (span.duration / 1000).toFixed(1);
      lines.push(
        `${'  '.repeat(depth)}${span.operationName}  [${service}, ${ms} ms]${tags ? `  ${tags}` : ''}`,
      );
      walk(span.spanID, depth + 1);
    }
  };
  walk(undefined, 0);
  return lines;
}

async function main(id: string | undefined): Promise<void> {
  if (!id) throw new Error('usage: npx tsx scripts/show-trace.ts <trace id | rollout id>');
  const trace = await findTrace(id);
  if (!trace) throw new Error(`no trace for ${id} at ${traceQueryUrl()} (yet: spans arrive within seconds)`);
  console.log(`trace ${trace.traceID}: ${trace.spans.length} spans`);
  for (const line of render(trace)) console.log(line);
}

main(process.argv[2]).catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
