import path from 'node:path';
import { LOCAL_ISSUER } from '../../common/constants';
import { ROLLOUT_SEARCH_ATTRIBUTES } from '../../common/searchAttributes';
import { EXAMPLE_SERVICES } from '../provision';
import { localStackEnv, otlpEndpoint, temporalUiUrl } from './env';
import { StackError } from './errors';
import { dataDir, expectedToolPath, repoRoot, toolsDir } from './paths';
import { PORTS, STACK_HOST, resolvePort, type PortSetting } from './ports';
import { httpGetSucceeds, portAnswers, temporalNamespaceReady, type Probe } from './probes';
import type { LaunchSpec } from './processes';
import {
  prometheusDataDir,
  writeStackPrometheusConfig,
  writeTargets,
  type PrometheusJob,
} from './prometheusConfig';

/** One server of the local stack. Adding a server is adding one entry to `COMPONENTS`. */
export interface Component {
  name: string;
  /** The port that tells whether it runs; probed before a start and while waiting for it. */
  port: PortSetting;
  /** Other ports it binds: checked before a start, so a clash is named instead of showing up as a crash. */
  otherPorts?: PortSetting[];
  /** Source in this repository it runs; while that file is missing the component is skipped, not failed. */
  sourceFile?: string;
  /**
   * Infrastructure is what the platform runs on (tests start it); applications are the platform's own
   * processes, started after infrastructure is provisioned; examples are consuming services built on the
   * SDK, started for the demo.
   */
  tier: 'infrastructure' | 'application' | 'example';
  launch(): LaunchSpec;
  /** Where it keeps what it was given across restarts (in `dataDir()`); without it, it keeps nothing. */
  stateFile?: () => string;
  /** Ready, and the service we expect rather than anything listening on the port. */
  answers: Probe;
  readyTimeoutMs: number;
}

// A moto server answers once it has replayed its journal, which grows with every change until a reset:
// one full `npm test` leaves one that replays in about 5-10 s on a busy two-core machine.
const MOTO_READY_TIMEOUT_MS = 180_000;

// moto's own API: answers only once the server is up, and only a moto server answers it.
const motoAnswers = httpGetSucceeds('/moto-api/config');

const temporalDatabase = () => path.join(dataDir(), 'temporal.db');
const motoJournal = (name: string) => () => path.join(dataDir(), `${name}.jsonl`);

function temporalDevServer(): LaunchSpec {
  const listen = ['--ip', STACK_HOST, '--port', String(resolvePort(PORTS.temporal))];
  const ui = ['--ui-port', String(resolvePort(PORTS.temporalUi))];
  const metrics = ['--metrics-port', String(resolvePort(PORTS.temporalMetrics))];
  const searchAttributes = ROLLOUT_SEARCH_ATTRIBUTES.flatMap(({ name }) => [
    '--search-attribute',
    `${name}=Keyword`,
  ]);
  // SQLite in the data directory: workflows and their histories outlive the server (`stack reset` clears it).
  // The search attributes are registered again on each start; an existing database keeps them.
  const database = ['--db-filename', temporalDatabase()];
  return {
    command: expectedToolPath('temporal'),
    args: [
      'server',
      'start-dev',
      ...listen,
      ...ui,
      ...metrics,
      ...database,
      '--log-level',
      'warn',
      ...searchAttributes,
    ],
  };
}

/** moto, journaling its changes and replaying them before it listens (scripts/stack/durable_moto.py). */
function motoServer(port: PortSetting, journal: string): LaunchSpec {
  return {
    command: expectedToolPath('python'),
    args: [
      path.join(repoRoot, 'scripts', 'stack', 'durable_moto.py'),
      STACK_HOST,
      String(resolvePort(port)),
      journal,
    ],
  };
}

function jaegerServer(): LaunchSpec {
  const ports = [PORTS.otlpGrpc, PORTS.otlpHttp, PORTS.jaegerUi, PORTS.jaegerQueryGrpc];
  return {
    command: expectedToolPath('jaeger'),
    args: ['--config', path.join(repoRoot, 'scripts', 'stack', 'jaeger.yaml')],
    env: Object.fromEntries(ports.map((setting) => [setting.envVar, String(resolvePort(setting))])),
  };
}

/** The demo's fleet: two services, each with a silo instance per tenant and a pooled one. */
const EXAMPLE_INSTANCES = EXAMPLE_SERVICES.flatMap((service, s) =>
  (['acme', 'globex', 'pool'] as const).map((tenancy, t) => ({
    service,
    tenancy,
    zone: `zone-${'abc'[t]}`,
    port: {
      envVar: `EXAMPLE_${service.toUpperCase()}_${tenancy.toUpperCase()}_PORT`,
      defaultPort: 7101 + s * 3 + t,
    },
    metricsPort: {
      envVar: `EXAMPLE_${service.toUpperCase()}_${tenancy.toUpperCase()}_METRICS_PORT`,
      defaultPort: 7201 + s * 3 + t,
    },
  })),
);

/** Where scripts/setup.sh unpacks Debian's prometheus package. */
const PROMETHEUS_ROOT = path.join(toolsDir, 'prometheus');

/**
 * Prometheus on the shipped configuration and rules (deploy/prometheus/), scraping every process of
 * the stack whether it runs yet or not: a target down is what the targets page should show.
 */
function prometheusServer(): LaunchSpec {
  const at = (setting: PortSetting) => [`${STACK_HOST}:${resolvePort(setting)}`];
  const stackTargets: Record<PrometheusJob, string[]> = {
    'config-service': at(PORTS.configMetrics),
    'rollout-worker': at(PORTS.workerHealth),
    'rollout-worker-runtime': at(PORTS.workerRuntimeMetrics),
    'config-sdk': EXAMPLE_INSTANCES.flatMap(({ metricsPort }) => at(metricsPort)),
    'temporal-server': at(PORTS.temporalMetrics),
    'out-of-band': at(PORTS.localEventBridge),
  };
  for (const [job, targets] of Object.entries(stackTargets))
    writeTargets(job as PrometheusJob, 'stack', [{ targets, labels: { stack: 'local' } }]);
  return {
    command: expectedToolPath('prometheus'),
    args: [
      `--config.file=${writeStackPrometheusConfig()}`,
      `--storage.tsdb.path=${path.join(prometheusDataDir(), 'tsdb')}`,
      `--web.listen-address=${STACK_HOST}:${resolvePort(PORTS.prometheus)}`,
      '--storage.tsdb.retention.time=7d',
      // Debian's build looks for its pages under /usr/share and /etc: here they are unpacked in .tools/.
      `--web.local-assets=${path.join(PROMETHEUS_ROOT, 'usr', 'share', 'prometheus', 'web')}`,
      `--web.console.templates=${path.join(PROMETHEUS_ROOT, 'etc', 'prometheus', 'consoles')}`,
      `--web.console.libraries=${path.join(PROMETHEUS_ROOT, 'etc', 'prometheus', 'console_libraries')}`,
      '--log.level=warn',
    ],
  };
}

export const COMPONENTS: readonly Component[] = [
  {
    name: 'temporal',
    tier: 'infrastructure',
    port: PORTS.temporal,
    otherPorts: [PORTS.temporalUi, PORTS.temporalMetrics],
    launch: temporalDevServer,
    stateFile: temporalDatabase,
    answers: temporalNamespaceReady,
    readyTimeoutMs: 60_000,
  },
  {
    // Infrastructure, so the tests have it: they list their in-process servers as its targets.
    name: 'prometheus',
    tier: 'infrastructure',
    port: PORTS.prometheus,
    launch: prometheusServer,
    stateFile: prometheusDataDir,
    answers: httpGetSucceeds('/-/ready'),
    readyTimeoutMs: 30_000,
  },
  {
    // A moto server of its own rather than DynamoDB Local, whose licence is the vendor's own terms,
    // not an open-source one. Kept apart from `moto` so resetting that one keeps the provisioned table.
    name: 'dynamodb',
    tier: 'infrastructure',
    port: PORTS.dynamodb,
    launch: () => motoServer(PORTS.dynamodb, motoJournal('dynamodb')()),
    stateFile: motoJournal('dynamodb'),
    answers: motoAnswers,
    readyTimeoutMs: MOTO_READY_TIMEOUT_MS,
  },
  {
    // SSM Parameter Store, Cloud Map and EventBridge, all on one port.
    name: 'moto',
    tier: 'infrastructure',
    port: PORTS.moto,
    launch: () => motoServer(PORTS.moto, motoJournal('moto')()),
    stateFile: motoJournal('moto'),
    answers: motoAnswers,
    readyTimeoutMs: MOTO_READY_TIMEOUT_MS,
  },
  {
    // Jaeger v2: receives the processes' spans over OTLP and keeps them in memory; its query API is what
    // the trace tests and scripts/show-trace.ts read (built from its Go module, it has no web UI).
    name: 'jaeger',
    tier: 'infrastructure',
    port: PORTS.jaegerUi,
    otherPorts: [PORTS.otlpGrpc, PORTS.otlpHttp, PORTS.jaegerQueryGrpc],
    launch: jaegerServer,
    answers: httpGetSucceeds('/api/services'),
    readyTimeoutMs: 30_000,
  },
  {
    // Serves the JWKS of the local JWT issuer that stands in for Cognito.
    name: 'issuer',
    tier: 'infrastructure',
    port: PORTS.issuer,
    sourceFile: 'scripts/local-issuer.ts',
    launch: () => tsxProcess('scripts/local-issuer.ts', { ISSUER_PORT: String(resolvePort(PORTS.issuer)) }),
    answers: httpGetSucceeds('/healthz'),
    readyTimeoutMs: 30_000,
  },
  {
    // gRPC ConfigService and the REST API, configured for the stack like any deployment: by env.
    name: 'config-service',
    tier: 'application',
    port: PORTS.configHttp,
    otherPorts: [PORTS.configGrpc, PORTS.configMetrics],
    sourceFile: 'server/main.ts',
    launch: () =>
      tsxProcess('server/main.ts', {
        HTTP_PORT: String(resolvePort(PORTS.configHttp)),
        GRPC_PORT: String(resolvePort(PORTS.configGrpc)),
        METRICS_PORT: String(resolvePort(PORTS.configMetrics)),
        // The Temporal UI may call the codec endpoint from the browser.
        CODEC_CORS_ORIGINS: temporalUiUrl(),
        // The web console signs in through the local issuer's stand-in for Cognito's hosted UI.
        CONSOLE_COGNITO_DOMAIN: `http://${STACK_HOST}:${resolvePort(PORTS.issuer)}`,
        CONSOLE_CLIENT_ID: LOCAL_ISSUER.clientId,
      }),
    answers: httpGetSucceeds('/healthz'),
    readyTimeoutMs: 30_000,
  },
  {
    // Runs rollout workflows; its health endpoint answers once the worker polls Temporal.
    name: 'rollout-worker',
    tier: 'application',
    port: PORTS.workerHealth,
    otherPorts: [PORTS.workerRuntimeMetrics],
    sourceFile: 'server/worker.ts',
    launch: () =>
      tsxProcess('server/worker.ts', {
        WORKER_HEALTH_PORT: String(resolvePort(PORTS.workerHealth)),
        WORKER_RUNTIME_METRICS_PORT: String(resolvePort(PORTS.workerRuntimeMetrics)),
      }),
    answers: httpGetSucceeds('/healthz'),
    readyTimeoutMs: 60_000,
  },
  {
    // Stands in for EventBridge and the Lambda service: Parameter Store edits reach the real handler.
    name: 'local-eventbridge',
    tier: 'application',
    port: PORTS.localEventBridge,
    sourceFile: 'scripts/local-eventbridge.ts',
    launch: () =>
      tsxProcess('scripts/local-eventbridge.ts', {
        LOCAL_EVENTBRIDGE_PORT: String(resolvePort(PORTS.localEventBridge)),
        // At-least-once, as EventBridge: every event is delivered twice, and rolled out once.
        LOCAL_EVENTBRIDGE_DUPLICATES: 'true',
        OUT_OF_BAND_ROLLOUT_PLAN: JSON.stringify({ bakeSeconds: 2 }),
      }),
    answers: httpGetSucceeds('/healthz'),
    readyTimeoutMs: 30_000,
  },
  ...EXAMPLE_INSTANCES.map(
    ({ service, tenancy, zone, port, metricsPort }): Component => ({
      name: `${service}-${tenancy}`,
      tier: 'example',
      port,
      otherPorts: [metricsPort],
      sourceFile: 'examples/orders-service/main.ts',
      launch: () =>
        tsxProcess('examples/orders-service/main.ts', {
          SERVICE_NAME: service,
          CONFIG_SERVICE_ADDRESS: `${STACK_HOST}:${resolvePort(PORTS.configGrpc)}`,
          ...(tenancy === 'pool'
            ? { TENANCY: 'pool', PRELOAD_TENANTS: 'acme,globex' }
            : { TENANCY: 'silo', TENANT_ID: tenancy }),
          REFRESH_PORT: String(resolvePort(port)),
          METRICS_PORT: String(resolvePort(metricsPort)),
          INSTANCE_ID: `${service}-${tenancy}`,
          ZONE: zone,
          CLOUD_MAP_CREATE_SERVICE: 'true',
        }),
      // The refresh port opens only after the first load, so an open port means ready.
      answers: portAnswers,
      readyTimeoutMs: 60_000,
    }),
  ),
];

/**
 * A TypeScript entry point of this repository, run with the stack's environment and under the Node that
 * runs the stack: tsx starts with whichever `node` comes first on PATH, and the machine's own may be an
 * older one than the project's (scripts/project-node.sh).
 */
function tsxProcess(sourceFile: string, env: Record<string, string>): LaunchSpec {
  const searchPath = [path.dirname(process.execPath), process.env.PATH].filter(Boolean);
  return {
    command: path.join(repoRoot, 'node_modules', '.bin', 'tsx'),
    args: [sourceFile],
    env: {
      ...localStackEnv(),
      // Every process of the stack sends its spans to the stack's Jaeger (common/tracing.ts).
      OTEL_EXPORTER_OTLP_ENDPOINT: otlpEndpoint(),
      PATH: searchPath.join(path.delimiter),
      ...env,
    },
  };
}

export function componentsNamed(names: readonly string[] | undefined): Component[] {
  if (names === undefined || names.length === 0) return [...COMPONENTS];
  return names.map((name) => {
    const component = COMPONENTS.find((candidate) => candidate.name === name);
    if (component === undefined) {
      const known = COMPONENTS.map((candidate) => candidate.name).join(', ');
      throw new StackError(`unknown component "${name}"; the stack has: ${known}`);
    }
    return component;
  });
}
