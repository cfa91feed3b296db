import type { ReadObserver } from '../configReader';
import { backendLabel, type ServerMetrics } from './serverMetrics';

/** The read cache's reports, as the service's metrics. */
export function observeReads(metrics: ServerMetrics): ReadObserver {
  return {
    cacheLookup: (hit) => metrics.cacheLookup(hit),
    backendRead: (backend, outcome, seconds) => metrics.backendRead(backendLabel(backend), outcome, seconds),
  };
}
