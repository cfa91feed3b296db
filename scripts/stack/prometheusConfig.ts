import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { dataDir, repoRoot, stateDir } from './paths';

/** The shipped configuration and rules: the stack runs the very files a deployment does. */
export const PROMETHEUS_DEPLOY_DIR = path.join(repoRoot, 'deploy', 'prometheus');

/**
 * Short, so a test sees what it did within seconds; the shipped file's 15 s suits a deployment. The
 * cost is small: a handful of loopback targets, and one visibility count per rollout state a scrape.
 */
export const STACK_SCRAPE_INTERVAL = '1s';

/** The jobs of deploy/prometheus/prometheus.yml, each scraping the targets listed in its own folder. */
export const PROMETHEUS_JOBS = [
  'config-service',
  'rollout-worker',
  'rollout-worker-runtime',
  'config-sdk',
  'temporal-server',
  'out-of-band',
] as const;
export type PrometheusJob = (typeof PROMETHEUS_JOBS)[number];

/** One file_sd group: `host:port` targets and the labels they share. */
export interface TargetGroup {
  readonly targets: readonly string[];
  readonly labels?: Readonly<Record<string, string>>;
}

/** Where the targets of each job are listed: the stack's own, and any a test registers. */
export const prometheusTargetsDir = (): string => path.join(stateDir(), 'prometheus-targets');
export const prometheusDataDir = (): string => path.join(dataDir(), 'prometheus');

interface ShippedConfig {
  global: Record<string, unknown>;
  rule_files: string[];
  scrape_configs: { job_name: string; file_sd_configs: { files: string[] }[] }[];
}

/**
 * The shipped configuration with its paths made absolute (rules from deploy/, targets from the stack's
 * state) and the stack's interval; written into the stack's data and answered as its path.
 */
export function writeStackPrometheusConfig(): string {
  const shipped = parse(
    readFileSync(path.join(PROMETHEUS_DEPLOY_DIR, 'prometheus.yml'), 'utf8'),
  ) as ShippedConfig;
  const targetsDir = prometheusTargetsDir();
  const config: ShippedConfig = {
    ...shipped,
    global: {
      ...shipped.global,
      scrape_interval: STACK_SCRAPE_INTERVAL,
      evaluation_interval: STACK_SCRAPE_INTERVAL,
    },
    rule_files: shipped.rule_files.map((file) => path.join(PROMETHEUS_DEPLOY_DIR, file)),
    scrape_configs: shipped.scrape_configs.map((job) => ({
      ...job,
      file_sd_configs: job.file_sd_configs.map(({ files }) => ({
        files: files.map((file) => path.join(targetsDir, path.relative('targets', file))),
      })),
    })),
  };
  for (const job of PROMETHEUS_JOBS) mkdirSync(path.join(targetsDir, job), { recursive: true });
  const file = path.join(prometheusDataDir(), 'prometheus.yml');
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, stringify(config));
  return file;
}

/**
 * Lists `groups` as the targets `name` adds to `job` (a file of its own, replaced whole: Prometheus
 * watches the folder, and never reads a half-written file). Answers the file, for `removeTargets`.
 */
export function writeTargets(job: PrometheusJob, name: string, groups: readonly TargetGroup[]): string {
  const dir = path.join(prometheusTargetsDir(), job);
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.json`);
  writeFileSync(`${file}.tmp`, JSON.stringify(groups));
  renameSync(`${file}.tmp`, file);
  return file;
}
