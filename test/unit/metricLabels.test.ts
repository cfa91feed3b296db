import { WorkerMetrics, MAX_SERVICE_LABELS } from '../../server/metrics/workerMetrics';
import { metricValue } from '../support/metrics';

/**
 * Service names are not a closed set: whoever registers instances names them. However many a worker
 * pushes to, its push metrics keep at most MAX_SERVICE_LABELS of them, and count the rest as `other`.
 */
test('pushes to more services than the bound keep the first names and count the rest as other', async () => {
  const metrics = new WorkerMetrics();
  const services = Array.from({ length: MAX_SERVICE_LABELS + 50 }, (_, i) => `svc-${i}`);
  for (const service of services) metrics.pushed(service, 'OK', 0.01);
  metrics.pushed('svc-0', 'UNAVAILABLE', 0.5);

  const { values } = await metrics.registry.getSingleMetric('cfg_pushes_total')!.get();
  const named = new Set(values.map((sample) => String(sample.labels.service)));
  expect(named.size).toBe(MAX_SERVICE_LABELS + 1);
  expect(named.has(`svc-${MAX_SERVICE_LABELS}`)).toBe(false);
  expect(await metricValue(metrics.registry, 'cfg_pushes_total', { service: 'other' })).toBe(50);
  // A name kept once stays itself for every later push.
  expect(
    await metricValue(metrics.registry, 'cfg_pushes_total', { service: 'svc-0', code: 'UNAVAILABLE' }),
  ).toBe(1);
});
