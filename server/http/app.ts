import express from 'express';
import type { ConfigStore } from '../../activities/storage/configStore';
import type { OutOfBandPlanStore } from '../../activities/storage/outOfBandPlanStore';
import type { FreezeStore } from '../../activities/storage/freezeStore';
import type { GateSignals } from '../rollouts/gateSignals';
import type { Logger } from '../../common/logger';
import type { Authenticator } from '../auth/authenticator';
import type { StreamQuota } from '../limits/streamQuota';
import type { RunningRolloutQuota } from '../rollouts/runningRolloutQuota';
import { assertNoTenantNamed } from '../auth/tenantSmuggling';
import type { CachedConfigReader } from '../configReader';
import type { ConsoleSettings } from '../../common/settings';
import { consoleBuildDir } from '../../common/consoleBuild';
import type { RolloutService } from '../rollouts/rolloutService';
import { authenticateWith } from './authenticate';
import { codecRoutes, type PayloadCodecEndpoint } from './codecRoutes';
import { configRoutes } from './configRoutes';
import { consoleRoutes } from './consoleRoutes';
import { freezeRoutes } from './freezeRoutes';
import { contractValidator, openApiDocument } from './openapi';
import { problemErrorHandler, unmatchedRoute } from './problem';
import { planRoutes } from './planRoutes';
import { isPlainObject } from './requestValues';
import { rolloutRoutes } from './rolloutRoutes';
import { schemaRoutes } from './schemaRoutes';
import { httpMetrics, notingRoute } from '../metrics/httpMetrics';
import type { ServerMetrics } from '../metrics/serverMetrics';
import { httpServerSpans } from '../tracing/httpSpans';

export interface HttpAppDeps {
  readonly authenticator: Authenticator;
  readonly reader: CachedConfigReader;
  /** Value schemas are read and written through the store itself: they are never cached. */
  readonly store: ConfigStore;
  /** The plans out-of-band edits roll out with; absent, /v1/rollout-plans answers 404. */
  readonly plans?: OutOfBandPlanStore;
  /** Absent where no Temporal is wired (reads only); rollout routes then answer 503. */
  readonly rollouts?: RolloutService;
  /** Absent where no Temporal is wired; /codec then answers 404. */
  readonly payloadCodec?: PayloadCodecEndpoint;
  /** Origins (the Temporal UI's) that may call /codec from a browser. */
  readonly codecCorsOrigins: readonly string[];
  /** Open progress streams per identity and tenant. */
  readonly streams: StreamQuota;
  /** Running rollouts per tenant; without it (no Temporal client given) starts are not counted. */
  readonly runningRollouts?: RunningRolloutQuota;
  readonly logger: Logger;
  /** Aborted when the server shuts down: open progress streams say so and close. */
  readonly shuttingDown?: AbortSignal;
  /** Freezes and change windows; absent, their routes answer 404. */
  readonly freezes?: FreezeStore;
  /** Tells running rollouts of a freeze or window change (absent without Temporal: they read it anyway). */
  readonly gateSignals?: GateSignals;
  /** Counts requests by route template; served on the metrics port, never on this app. */
  readonly metrics?: ServerMetrics;
  /** The web console's sign-in settings; absent, it signs in with a pasted token only. */
  readonly console?: ConsoleSettings;
  /** A server span per request (the process installed a tracer provider). */
  readonly traced?: boolean;
}

/**
 * The REST API: /openapi.json is its contract and every request is validated against it before a
 * handler runs. The tenant and the actor come from the verified bearer token only.
 */
export function createHttpApp(deps: HttpAppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  const { metrics } = deps;
  if (metrics) app.use(httpMetrics(metrics, (key) => deps.reader.backendOf(key)));
  if (deps.traced) app.use(httpServerSpans());
  app.use(express.json({ limit: '1mb' }));

  app.get('/openapi.json', (_request, response) => {
    response.json(openApiDocument);
  });

  const authenticate = notingRoute(authenticateWith(deps.authenticator));
  // Temporal's remote codec protocol, not part of this API's contract: mounted before its validator.
  if (deps.payloadCodec) {
    app.use(
      '/codec',
      codecRoutes({
        ...deps.payloadCodec,
        corsOrigins: deps.codecCorsOrigins,
        authenticate,
        logger: deps.logger,
      }),
    );
  }

  // The web console's files, not part of this API's contract: mounted before its validator.
  app.use('/console', consoleRoutes({ settings: deps.console ?? {}, buildDir: consoleBuildDir() }));

  // Before validation, so a tenant named anywhere gets this error rather than "unknown parameter".
  app.use('/v1', (request, _response, next) => {
    assertNoTenantNamed(Object.keys(request.query), 'query string');
    assertNoTenantNamed(Object.keys(request.headers), 'request headers');
    if (isPlainObject(request.body)) assertNoTenantNamed(Object.keys(request.body), 'request body');
    next();
  });

  app.use(contractValidator());

  app.get('/healthz', (_request, response) => {
    response.json({ status: 'ok' });
  });

  app.use('/v1', configRoutes({ reader: deps.reader, authenticate }));
  app.use('/v1', schemaRoutes({ store: deps.store, authenticate }));
  if (deps.plans) app.use('/v1', planRoutes({ plans: deps.plans, authenticate }));
  if (deps.freezes)
    app.use('/v1', freezeRoutes({ freezes: deps.freezes, signals: deps.gateSignals, authenticate }));
  if (deps.rollouts) {
    app.use(
      '/v1',
      rolloutRoutes({
        rollouts: deps.rollouts,
        authenticate,
        streams: deps.streams,
        runningRollouts: deps.runningRollouts,
        shuttingDown: deps.shuttingDown,
      }),
    );
  }
  app.use(unmatchedRoute({ rolloutsAvailable: deps.rollouts !== undefined }));
  app.use(problemErrorHandler(deps.logger, metrics && ((limit) => metrics.refused(limit, 'http'))));
  return app;
}
