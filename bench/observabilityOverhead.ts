/**
 * npm run bench:obs: what issue 13's instrumentation costs the hottest path, a cached gRPC GetConfig.
 *
 * Three config services, each a process of its own compiled by tsc as the image is, against the same
 * stack and the same key, in the same run:
 * - `baseline`: this repository at BASELINE_REF, the last commit before any metric or span was added
 *   (its sources from `git archive`, compiled the same way);
 * - `metrics`: this checkout, tracing off (no OTEL_EXPORTER_OTLP_ENDPOINT): prom-client on every read;
 * - `sampled`: this checkout, tracing on (1 % of new traces sampled, `parentbased_traceidratio` 0.01),
 *   exporting to the stack's Jaeger over OTLP, the reads sent without trace context: what instances do;
 * - `traced`: the same service, every read sent inside a caller's sampled trace (a `traceparent` with
 *   the sampled flag): a span recorded and exported per read, the worst case a caller can ask for.
 *
 * Runs alternate between the three, three per concurrency, and the medians are compared against the
 * baseline: calls/s and p50. stdout carries exactly one JSON document; progress goes to stderr.
 */
import { execFile, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createAwsClients, destroyAwsClients } from '../activities/awsClients';
import { errorMessage } from '../common/errors';
import { loadAwsSettings } from '../common/settings';
import {
  localStackEnv,
  otlpEndpoint,
  repoRoot,
  stackDown,
  stackUp,
  traceQueryUrl,
} from '../scripts/stack/index';
import { median, round2 } from './common';
import {
  compileForBench,
  ghzGetConfig,
  nsToMs,
  percentileMs,
  startConfigService,
  stopProcess,
  READ_KEY,
  seedReadTenant,
  writeDocument,
} from './grpcLoad';

const run = promisify(execFile);

/** The commit that added issue 13's dependencies and nothing else: the code as it was before them. */
const BASELINE_REF = process.env.BENCH_OBS_BASELINE_REF ?? 'a9b5d2c';
const VARIANTS = ['baseline', 'metrics', 'sampled', 'traced'] as const;
type Variant = (typeof VARIANTS)[number];
const DURATION = '5s';
const WARMUP = '2s';
const CONCURRENCIES = [50] as const;
const RUNS = 3;
const CONNECTIONS = 4;
const GHZ_CPUS = 1;
/** A caller's span with the sampled flag: the service records (and exports) a child span of every read. */
const SAMPLED_PARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
/** Metrics may cost a tenth of the calls and of the median latency; tracing on, too; a span per read, a fifth. */
const GOALS: Record<Exclude<Variant, 'baseline'>, { rps: number; p50: number }> = {
  metrics: { rps: 0.9, p50: 1.1 },
  sampled: { rps: 0.85, p50: 1.2 },
  traced: { rps: 0.8, p50: 1.25 },
};

const log = (line: string) => process.stderr.write(`[bench:obs] ${line}\n`);

interface Measurement {
  readonly variant: Variant;
  readonly concurrency: number;
  readonly run: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly meanMs: number;
}

async function main(): Promise<number> {
  Object.assign(process.env, localStackEnv());
  const stack = await stackUp({ tiers: ['infrastructure'] }, (line) => log(`stack: ${line}`));
  const clients = createAwsClients(loadAwsSettings());
  const started: ChildProcess[] = [];
  try {
    const { token } = await seedReadTenant(clients, 'bench-obs');
    log(`compiling this checkout, and ${BASELINE_REF} (the baseline), with tsc`);
    const current = await compileForBench();
    const baseline = await compileBaseline(BASELINE_REF);
    const noTracing = { OTEL_SDK_DISABLED: 'true' };
    const services: Record<Variant, { process: ChildProcess; grpcPort: number }> = {
      baseline: await startConfigService({ ...noTracing, METRICS_PORT: '0' }, { compiled: baseline }),
      metrics: await startConfigService({ ...noTracing, METRICS_PORT: '0' }, { compiled: current }),
      sampled: await startConfigService(traced('0.01'), { compiled: current }),
      traced: await startConfigService(traced('0.01'), { compiled: current }),
    };
    started.push(...Object.values(services).map((service) => service.process));

    const load = (variant: Variant, concurrency: number, duration: string) =>
      ghzGetConfig({
        port: services[variant].grpcPort,
        request: { key: READ_KEY },
        token,
        ...(variant === 'traced' ? { metadata: { traceparent: SAMPLED_PARENT } } : {}),
        concurrency,
        connections: CONNECTIONS,
        duration,
        cpus: GHZ_CPUS,
      });
    for (const variant of VARIANTS) await load(variant, CONCURRENCIES[0], WARMUP);
    const measurements: Measurement[] = [];
    for (const concurrency of CONCURRENCIES) {
      for (let runIndex = 1; runIndex <= RUNS; runIndex += 1) {
        // A different variant first each run, so drift in the machine's load falls on all three alike.
        const order = VARIANTS.map((_, i) => VARIANTS[(i + runIndex) % VARIANTS.length]!);
        for (const variant of order) {
          const report = await load(variant, concurrency, DURATION);
          const measurement: Measurement = {
            variant,
            concurrency,
            run: runIndex,
            rps: Math.round(report.rps),
            p50Ms: percentileMs(report, 50),
            p99Ms: percentileMs(report, 99),
            meanMs: nsToMs(report.average),
          };
          measurements.push(measurement);
          log(
            `c=${concurrency} run ${runIndex} ${variant}: ${measurement.rps} calls/s, p50 ${measurement.p50Ms} ms`,
          );
        }
      }
    }
    await Promise.all(started.map(stopProcess));
    // Not a measure of nothing: the traced service's spans reached the receiver (its shutdown flushed them).
    if (!(await receiverKnows('config-service')))
      throw new Error("Jaeger received no span of the traced service's reads");
    const document = {
      benchmark: 'observability-overhead',
      machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version },
      baselineRef: BASELINE_REF,
      load: {
        tool: 'ghz',
        duration: DURATION,
        runs: RUNS,
        concurrencies: CONCURRENCIES,
        connections: CONNECTIONS,
      },
      medians: medians(measurements),
      results: measurements,
      ratios: ratios(measurements),
    };
    await writeDocument(document);
    return 0;
  } finally {
    await Promise.all(started.map(stopProcess));
    destroyAwsClients(clients);
    await stackDown(stack.started, (line) => log(`stack: ${line}`));
  }
}

/** Whether the stack's Jaeger has received spans of `service` (its list of services, a small answer). */
async function receiverKnows(service: string): Promise<boolean> {
  const response = await fetch(`${traceQueryUrl()}/api/services`);
  const { data } = (await response.json()) as { data?: string[] };
  return (data ?? []).includes(service);
}

/** A config service exporting spans to the stack's Jaeger, sampling `ratio` of the traces it starts. */
function traced(ratio: string): Record<string, string> {
  return {
    OTEL_EXPORTER_OTLP_ENDPOINT: otlpEndpoint(),
    OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
    OTEL_TRACES_SAMPLER_ARG: ratio,
    METRICS_PORT: '0',
  };
}

/**
 * The baseline's sources (`git archive`, so no checkout is touched) compiled by tsc beside this
 * checkout's, with this checkout's node_modules and generated proto types: the dependencies were
 * pinned before the baseline commit, and the protos are checked to be the same.
 */
async function compileBaseline(ref: string): Promise<string> {
  const protoChanged = await run('git', ['diff', '--quiet', ref, 'HEAD', '--', 'proto'], {
    cwd: repoRoot,
  }).then(
    () => false,
    () => true,
  );
  if (protoChanged)
    throw new Error(`proto/ changed since ${ref}: the baseline would need its own generated types`);
  const source = path.join(repoRoot, '.local', 'bench-baseline-src');
  const outDir = path.join(repoRoot, '.local', 'bench-baseline-dist');
  rmSync(source, { recursive: true, force: true });
  mkdirSync(source, { recursive: true });
  await run('bash', ['-c', `git archive --format=tar "${ref}" | tar -x -C "${source}"`], { cwd: repoRoot });
  symlinkSync(path.join(repoRoot, 'gen'), path.join(source, 'gen'));
  await run(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', source, '--outDir', outDir], {
    cwd: source,
    maxBuffer: 16 * 1024 * 1024,
  }).catch((error: unknown) => {
    throw new Error(`compiling ${ref} failed: ${errorMessage(error)}`);
  });
  // Compiled where node resolves this checkout's node_modules and finds its package.json (proto files).
  if (!readFileSync(path.join(outDir, 'server', 'main.js'), 'utf8')) throw new Error('no server/main.js');
  return outDir;
}

type Medians = Record<string, { rps: number; p50Ms: number }>;

function medians(measurements: readonly Measurement[]): Medians {
  const out: Medians = {};
  for (const concurrency of CONCURRENCIES) {
    for (const variant of VARIANTS) {
      const runs = measurements.filter((m) => m.variant === variant && m.concurrency === concurrency);
      out[`${variant}_c${concurrency}`] = {
        rps: median(runs.map((m) => m.rps)),
        p50Ms: median(runs.map((m) => m.p50Ms)),
      };
    }
  }
  return out;
}

function ratios(measurements: readonly Measurement[]): Record<string, unknown> {
  const byName = medians(measurements);
  const out: Record<string, unknown> = {};
  for (const concurrency of CONCURRENCIES) {
    const baseline = byName[`baseline_c${concurrency}`]!;
    for (const variant of ['metrics', 'sampled', 'traced'] as const) {
      const measured = byName[`${variant}_c${concurrency}`]!;
      const rps = round2(measured.rps / baseline.rps);
      const p50 = round2(measured.p50Ms / baseline.p50Ms);
      out[`rps_${variant}_vs_baseline_c${concurrency}`] = {
        value: rps,
        goal: `>= ${GOALS[variant].rps}`,
        met: rps >= GOALS[variant].rps,
        measured: { rps: measured.rps, baselineRps: baseline.rps },
      };
      out[`p50_${variant}_vs_baseline_c${concurrency}`] = {
        value: p50,
        goal: `<= ${GOALS[variant].p50}`,
        met: p50 <= GOALS[variant].p50,
        measured: { p50Ms: measured.p50Ms, baselineP50Ms: baseline.p50Ms },
      };
    }
  }
  return out;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    log(`failed: ${errorMessage(error)}`);
    process.exit(1);
  },
);
