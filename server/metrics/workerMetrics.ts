import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { PushObserver } from '../../activities/refresh/pushObserver';
import { BoundedLabel } from './boundedLabel';

/** Distinct services named in push metrics; later ones count as `other` (see BoundedLabel). */
export const MAX_SERVICE_LABELS = 200;

/** Seconds: a push on the local network takes milliseconds, one retried to its bound tens of seconds. */
const PUSH_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * The rollout worker's prom-client metrics: what its activities do (pushes to instances). What only
 * the workflow knows (waves, gates, outcomes) goes through the Temporal SDK's meter instead
 * (workflows/rolloutMetrics.ts), served by the Runtime on its own port.
 */
export class WorkerMetrics implements PushObserver {
  readonly registry = new Registry();
  private readonly services = new BoundedLabel(MAX_SERVICE_LABELS);

  private readonly pushes = new Counter({
    name: 'cfg_pushes_total',
    help: 'CacheRefresh pushes to instances, retries included, by service and outcome code',
    labelNames: ['service', 'code'] as const,
    registers: [this.registry],
  });

  private readonly pushSeconds = new Histogram({
    name: 'cfg_push_duration_seconds',
    help: 'Time to push to one instance, retries included, by service and outcome code',
    labelNames: ['service', 'code'] as const,
    buckets: PUSH_BUCKETS,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'cfg_rollout_worker_' });
  }

  pushed(service: string, code: string, seconds: number): void {
    const labels = { service: this.services.of(service), code };
    this.pushes.inc(labels);
    this.pushSeconds.observe(labels, seconds);
  }
}
