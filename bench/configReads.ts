/**
 * npm run bench:reads: the config service's read path under load (ghz against gRPC GetConfig).
 *
 * Claim under test: the in-memory cache in front of the storage strategies serves repeated reads from
 * memory, so throughput rises and latency falls by a large factor against reading the store every time,
 * in both backends, while the process's memory stays bounded. The same config service (server/main.ts,
 * its own process) runs twice: with its cache off (CONFIG_CACHE_TTL_MS=0, the baseline) and on (the
 * default 5 s). Each run answers ghz's GetConfig calls for a DynamoDB key and a Parameter Store key of a
 * seeded tenant, every call with a bearer token verified by aws-jwt-verify, as in production.
 *
 * stdout carries exactly one JSON document (bench/README.md explains it); progress goes to stderr.
 * Exits non-zero when any call fails: a fast error is no result.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { createAwsClients, destroyAwsClients } from '../activities/awsClients';
import { configStoreFor } from '../activities/storage/configStore';
import type { ConfigAddress } from '../common/configAddress';
import { loadAwsSettings, loadStorageSettings } from '../common/settings';
import { issueDevToken } from '../scripts/stack/localIssuer';
import { localStackEnv, stackDown, stackUp, toolPath } from '../scripts/stack/index';
import {
  ghzGetConfig,
  type GhzReport,
  nsToMs,
  percentileMs,
  startConfigService,
  stopProcess,
  writeDocument,
} from './grpcLoad';
import { errorMessage } from '../common/errors';

const DURATION = '8s';
const WARMUP = '1s';
const CONCURRENCY = 16;
const CONNECTIONS = 4;
const CACHE_MODES = [
  { name: 'uncached', ttlMs: 0 },
  { name: 'cached', ttlMs: 5000 },
] as const;
const log = (line: string) => process.stderr.write(`[bench:reads] ${line}\n`);

interface Target {
  readonly backend: string;
  readonly address: ConfigAddress;
}

interface Measurement {
  readonly mode: string;
  readonly backend: string;
  readonly calls: number;
  readonly rps: number;
  readonly latencyMs: {
    readonly p50: number;
    readonly p95: number;
    readonly p99: number;
    readonly mean: number;
  };
}

async function main(): Promise<number> {
  Object.assign(process.env, localStackEnv());
  // Fails at once, naming the fix, when ghz is not installed.
  toolPath('ghz');
  const stack = await stackUp({ tiers: ['infrastructure'] }, (line) => log(`stack: ${line}`));
  const clients = createAwsClients(loadAwsSettings());
  try {
    const tenantId = `bench-reads-${randomUUID().slice(0, 8)}`;
    const targets: Target[] = [
      { backend: 'dynamodb', address: { tenantId, key: 'tenant_config_featureFlags' } },
      {
        backend: 'parameter-store',
        address: { tenantId, key: 'param_config_apiEndpoint', service: 'orders' },
      },
    ];
    const store = configStoreFor(clients, loadStorageSettings());
    await store.put(targets[0]!.address, '{"newCheckout":true,"darkMode":false}', {
      expectedVersion: 0,
      makeLive: true,
    });
    await store.put(targets[1]!.address, 'https://orders.example/v1', { expectedVersion: 0, makeLive: true });
    const token = issueDevToken({ tenantId, groups: ['services'], ttlSeconds: 3600 });

    const measurements: Measurement[] = [];
    const memory: Record<string, number> = {};
    for (const mode of CACHE_MODES) {
      const service = await startConfigService({ CONFIG_CACHE_TTL_MS: String(mode.ttlMs) });
      try {
        for (const target of targets) {
          await ghzRun(service.grpcPort, target, token, WARMUP);
          const report = await ghzRun(service.grpcPort, target, token, DURATION);
          measurements.push(toMeasurement(mode.name, target.backend, report));
          log(`${mode.name} ${target.backend}: ${Math.round(report.rps)} calls/s`);
        }
        memory[`${mode.name}RssMb`] = rssMb(service.process.pid!);
      } finally {
        await stopProcess(service.process);
      }
    }
    await writeDocument({
      benchmark: 'config-reads',
      machine: { cpus: os.cpus().length, node: process.version },
      load: {
        tool: 'ghz',
        call: 'configsvc.v1.ConfigService/GetConfig',
        duration: DURATION,
        concurrency: CONCURRENCY,
        connections: CONNECTIONS,
      },
      backendsAre: "moto servers on loopback (absolute uncached figures are moto's, not AWS's)",
      results: measurements,
      memory,
      ratios: ratios(measurements),
    });
    return 0;
  } finally {
    destroyAwsClients(clients);
    await stackDown(stack.started, (line) => log(`stack: ${line}`));
  }
}

async function ghzRun(port: number, target: Target, token: string, duration: string): Promise<GhzReport> {
  const request = { key: target.address.key, service: target.address.service ?? '' };
  return ghzGetConfig({
    port,
    request,
    token,
    concurrency: CONCURRENCY,
    connections: CONNECTIONS,
    duration,
  }).catch((error: Error) => {
    throw new Error(`${target.backend}: ${error.message}`);
  });
}

function toMeasurement(mode: string, backend: string, report: GhzReport): Measurement {
  const percentile = (p: number) => percentileMs(report, p);
  return {
    mode,
    backend,
    calls: report.count,
    rps: Math.round(report.rps),
    latencyMs: {
      p50: percentile(50),
      p95: percentile(95),
      p99: percentile(99),
      mean: nsToMs(report.average),
    },
  };
}

/** Cached against uncached (the baseline), per backend, from the same run. */
function ratios(measurements: readonly Measurement[]): Record<string, number> {
  const out: Record<string, number> = {};
  const round = (value: number) => Math.round(value * 100) / 100;
  for (const cached of measurements.filter((m) => m.mode === 'cached')) {
    const baseline = measurements.find((m) => m.mode === 'uncached' && m.backend === cached.backend);
    if (!baseline) continue;
    out[`rps_cached_vs_uncached_${cached.backend}`] = round(cached.rps / baseline.rps);
    out[`p50_uncached_vs_cached_${cached.backend}`] = round(baseline.latencyMs.p50 / cached.latencyMs.p50);
  }
  return out;
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  return Math.round(kb / 1024);
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    log(`failed: ${errorMessage(error)}`);
    process.exit(1);
  },
);
