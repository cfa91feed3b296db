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
