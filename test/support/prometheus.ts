import { rmSync } from 'node:fs';
import { prometheusUrl, writeTargets, type PrometheusJob } from '../../scripts/stack/index';
import { until } from './until';

interface QueryAnswer {
  status: string;
  data: { result: { metric: Record<string, string>; value: [number, string] }[] };
}

/** The samples of an instant query of the stack's Prometheus. */
export async function query(promql: string): Promise<QueryAnswer['data']['result']> {
  const response = await fetch(`${prometheusUrl()}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const answer = (await response.json()) as QueryAnswer;
  if (answer.status !== 'success') throw new Error(`Prometheus refused ${promql}: ${JSON.stringify(answer)}`);
  return answer.data.result;
}

/** The sum of an instant query's sample values (0 for none). */
export async function queryValue(promql: string): Promise<number> {
  return (await query(promql)).reduce((total, sample) => total + Number(sample.value[1]), 0);
}

/** Waits until `promql` answers a value `accepts`; throws naming the query and its last value. */
export async function untilQuery(
  promql: string,
  accepts: (value: number) => boolean,
  seconds = 30,
): Promise<number> {
  let last: number | undefined;
  try {
    return await until(
      promql,
      async () => {
        last = await queryValue(promql);
        return accepts(last) ? last : undefined;
      },
      seconds,
    );
  } catch {
    throw new Error(`${promql} stayed at ${last ?? 'no answer'} for ${seconds} s`);
  }
}

export interface ScrapeTarget {
  readonly health: string;
  readonly labels: Record<string, string>;
  readonly scrapeUrl: string;
  readonly lastError: string;
}

export async function activeTargets(): Promise<ScrapeTarget[]> {
  const response = await fetch(`${prometheusUrl()}/api/v1/targets?state=active`);
  return ((await response.json()) as { data: { activeTargets: ScrapeTarget[] } }).data.activeTargets;
}

/**
 * A test's own processes as Prometheus targets, labelled `test=<id>` so its queries see only them;
 * `remove` takes them out again.
 */
export function registerTargets(
  id: string,
  targets: Partial<Record<PrometheusJob, readonly string[]>>,
): { remove: () => void } {
  const files = Object.entries(targets).map(([job, addresses]) =>
    writeTargets(job as PrometheusJob, `test-${id}`, [{ targets: addresses, labels: { test: id } }]),
  );
  return { remove: () => files.forEach((file) => rmSync(file, { force: true })) };
}
