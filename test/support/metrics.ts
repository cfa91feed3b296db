import { callApi } from './restApi';
import type { Registry } from 'prom-client';

/** The sum of a metric's samples whose labels include `labels` (0 when none match). */
export async function metricValue(
  registry: Registry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (!metric) throw new Error(`${name} is not registered`);
  const { values } = await metric.get();
  return values
    .filter((sample) =>
      Object.entries(labels).every(([label, value]) => String(sample.labels[label]) === value),
    )
    .reduce((total, sample) => total + sample.value, 0);
}

/**
 * 60 reads at once by one identity: past a limit of 10 a second with a burst of 20 (the metrics
 * tests' settings). Answers how many the service refused; fails the test if none was.
 */
export async function floodOneIdentity(httpUrl: string, path: string, token: string): Promise<number> {
  const answers = await Promise.all(Array.from({ length: 60 }, () => callApi(httpUrl, 'GET', path, token)));
  const refused = answers.filter((answer) => answer.status === 429).length;
  expect(refused).toBeGreaterThan(0);
  return refused;
}
