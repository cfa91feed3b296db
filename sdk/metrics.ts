import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** How a CacheRefresh call ended: the push changed what is held, changed nothing, or was refused. */
export type RefreshCallOutcome = 'applied' | 'unchanged' | 'answered' | 'refused';

/** Seconds: applying a push is a verify, an unseal and a map write, then the listeners. */
const APPLY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

/**
 * The SDK's metrics, registered in the embedding service's registry (or one of its own): pushes and
 * health calls received, how long a push took to apply, keys held, and what the version checks found.
 * No label names a tenant, a key or a value: an instance may hold any of its tenants' keys, and the
 * alert that matters ("behind live") sums over them. One ConfigClient per registry: the names are fixed.
 */
export class SdkMetrics {
  private readonly calls: Counter<'method' | 'outcome'>;
  private readonly applySeconds: Histogram;
  private readonly checks: Counter<'result'>;
  private behind = 0;

  constructor(
    readonly registry: Registry,
    heldKeys: () => number,
  ) {
    const registers = [registry];
    this.calls = new Counter({
      name: 'cfg_sdk_refresh_calls_total',
      help: 'CacheRefresh calls this instance received, by method and outcome',
      labelNames: ['method', 'outcome'] as const,
      registers,
    });
    this.applySeconds = new Histogram({
      name: 'cfg_sdk_apply_duration_seconds',
      help: 'Time from a push arriving to its answer (verified, unsealed, applied, listeners told)',
      buckets: APPLY_BUCKETS,
      registers,
    });
    this.checks = new Counter({
      name: 'cfg_sdk_version_checks_total',
      help: 'Held keys re-read by the version check, by result (current, behind, failed)',
      labelNames: ['result'] as const,
      registers,
    });
    const behind = () => this.behind;
    new Gauge({
      name: 'cfg_sdk_keys_behind_live',
      help: 'Held keys the last version check found behind the live version (a push was missed)',
      registers,
      collect() {
        this.set(behind());
      },
    });
    new Gauge({
      name: 'cfg_sdk_held_keys',
      help: 'Keys this instance holds a version (or a removal) of, across its tenants',
      registers,
      collect() {
        this.set(heldKeys());
      },
    });
  }

  refreshCall(method: string, outcome: RefreshCallOutcome, seconds: number): void {
    this.calls.inc({ method, outcome });
    if (method === 'Refresh' && outcome !== 'refused') this.applySeconds.observe(seconds);
  }

  versionChecked(result: 'current' | 'behind' | 'failed'): void {
    this.checks.inc({ result });
  }

  /** A whole pass ended: the gauge says how many keys it found behind, until the next pass. */
  versionCheckPassed(behind: number): void {
    this.behind = behind;
  }
}
