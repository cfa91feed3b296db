import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The transports a config read arrives on. */
export type ReadTransport = 'grpc' | 'http';

/** Seconds: a read from memory is well under a millisecond, one from Parameter Store up to seconds. */
const READ_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/**
 * The config service's metrics, in one registry per process. Every label is bounded by the code, not by
 * what callers send: a method, a status code, a backend, a route template, a limit's name. No label
 * carries a key, a value, a tenant or a path (docs/observability.md lists each metric and its bound).
 */
export class ServerMetrics {
  readonly registry = new Registry();

  private readonly reads = new Counter({
    name: 'cfg_config_reads_total',
    help: 'Config service calls answered, by transport, method, gRPC status or HTTP code, and backend',
    labelNames: ['transport', 'method', 'code', 'backend'] as const,
    registers: [this.registry],
  });

  private readonly readSeconds = new Histogram({
    name: 'cfg_config_read_duration_seconds',
    help: 'Time from a config read arriving to its answer, by transport, method and backend',
    labelNames: ['transport', 'method', 'backend'] as const,
    buckets: READ_BUCKETS,
    registers: [this.registry],
  });

  private readonly cacheLookups = new Counter({
    name: 'cfg_read_cache_lookups_total',
    help: 'Live reads the read cache answered (hit) or passed to the backend (miss)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  private readonly backendReads = new Histogram({
    name: 'cfg_backend_read_duration_seconds',
    help: 'Live reads that reached a storage backend, by backend and outcome',
    labelNames: ['backend', 'outcome'] as const,
    buckets: READ_BUCKETS,
    registers: [this.registry],
  });

  private readonly refusals = new Counter({
    name: 'cfg_limit_refusals_total',
    help: 'Requests refused by a rate limit or quota, by the limit and the transport',
    labelNames: ['limit', 'transport'] as const,
    registers: [this.registry],
  });

  private readonly httpRequests = new Counter({
    name: 'cfg_http_requests_total',
    help: 'REST requests answered, by method, route template (never the path) and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });

  private readonly httpSeconds = new Histogram({
    name: 'cfg_http_request_duration_seconds',
    help: 'REST request durations, by method and route template (streams last as long as they are open)',
    labelNames: ['method', 'route'] as const,
    buckets: READ_BUCKETS,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'cfg_config_service_' });
  }

  /** A gauge whose value is read when Prometheus scrapes (cache sizes, rollouts by state). */
  gauge<L extends string>(options: {
    name: string;
    help: string;
    labelNames?: readonly L[];
    collect: (gauge: Gauge<L>) => void | Promise<void>;
  }): void {
    const { collect, ...rest } = options;
    new Gauge<L>({
      ...rest,
      registers: [this.registry],
      collect() {
        return collect(this);
      },
    });
  }

  /**
   * Each series of a read bound once: prom-client hashes a label object (its names sorted) on every
   * `inc` or `observe` given one, which was most of what counting cost a cached read. The labels are
   * bounded (see above), so is this map.
   */
  private readonly readSeries = new Map<string, { count: () => void; time: (seconds: number) => void }>();

  read(transport: ReadTransport, method: string, code: string, backend: string, seconds: number): void {
    const key = `${transport} ${method} ${code} ${backend}`;
    let series = this.readSeries.get(key);
    if (series === undefined) {
      const count = this.reads.labels({ transport, method, code, backend });
      const time = this.readSeconds.labels({ transport, method, backend });
      series = { count: () => count.inc(), time: (value) => time.observe(value) };
      this.readSeries.set(key, series);
    }
    series.count();
    series.time(seconds);
  }

  private readonly lookups = {
    hit: this.cacheLookups.labels({ result: 'hit' }),
    miss: this.cacheLookups.labels({ result: 'miss' }),
  };

  cacheLookup(hit: boolean): void {
    (hit ? this.lookups.hit : this.lookups.miss).inc();
  }

  backendRead(backend: string, outcome: 'ok' | 'not_found' | 'error', seconds: number): void {
    this.backendReads.observe({ backend, outcome }, seconds);
  }

  refused(limit: string, transport: ReadTransport): void {
    this.refusals.inc({ limit, transport });
  }

  httpRequest(method: string, route: string, status: number, seconds: number): void {
    this.httpRequests.inc({ method, route, status: String(status) });
    this.httpSeconds.observe({ method, route }, seconds);
  }
}

/** One per registered backend (a prefix registry's names), so bounded: read on every call. */
const backendLabels = new Map<string, string>();

/** A backend's display name ('Parameter Store') as a label value ('parameter_store'); 'none' without one. */
export function backendLabel(backend: string | undefined): string {
  if (!backend) return 'none';
  let label = backendLabels.get(backend);
  if (label === undefined) {
    label = backend.toLowerCase().replace(/[^a-z0-9]+/g, '_');
    backendLabels.set(backend, label);
  }
  return label;
}
