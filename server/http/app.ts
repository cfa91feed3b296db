import express, { type Request } from 'express';
import type { ConfigVersion } from '../../activities/storage/types';
import { InvalidArgumentError } from '../../common/errors';
import type { Logger } from '../../common/logger';
import type { Authenticator } from '../auth/authenticator';
import type { Action, Identity } from '../auth/identity';
import { assertNoTenantNamed } from '../auth/tenantSmuggling';
import type { CachedConfigReader } from '../configReader';
import { notFoundRoute, problemErrorHandler } from './problem';

export interface HttpAppDeps {
  readonly authenticator: Authenticator;
  readonly reader: CachedConfigReader;
  readonly logger: Logger;
}

/** The REST API. The tenant and the actor come from the verified bearer token only. */
export function createHttpApp(deps: HttpAppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: '1mb' }));

  app.get('/healthz', (_request, response) => {
    response.json({ status: 'ok' });
  });

  const v1 = express.Router();
  v1.use((request, _response, next) => {
    assertNoTenantNamed(Object.keys(request.query), 'query string');
    assertNoTenantNamed(Object.keys(request.headers), 'request headers');
    if (isPlainObject(request.body)) assertNoTenantNamed(Object.keys(request.body), 'request body');
    next();
  });

  const authenticate = (request: Request, action: Action): Promise<Identity> =>
    deps.authenticator.authenticate(request.headers.authorization, action);

  v1.get('/configs', async (request, response) => {
    const identity = await authenticate(request, 'config:read');
    const entries = await deps.reader.list(
      identity.tenantId,
      optionalString(request.query.service, 'service'),
    );
    response.json({ items: entries.map(toJson) });
  });

  v1.get('/configs/:key', async (request, response) => {
    const identity = await authenticate(request, 'config:read');
    const address = {
      tenantId: identity.tenantId,
      key: request.params.key,
      service: optionalString(request.query.service, 'service'),
    };
    const version = optionalPositiveInteger(request.query.version, 'version');
    const entry = version
      ? await deps.reader.getVersion(address, version)
      : await deps.reader.getLive(address);
    response.json(toJson(entry));
  });

  app.use('/v1', v1);
  app.use(notFoundRoute);
  app.use(problemErrorHandler(deps.logger));
  return app;
}

function toJson(entry: ConfigVersion) {
  return {
    key: entry.key,
    ...(entry.service ? { service: entry.service } : {}),
    version: entry.version,
    value: entry.value,
    format: entry.format,
    updatedAt: entry.updatedAt,
  };
}

function optionalString(value: unknown, field: string): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string')
    throw new InvalidArgumentError(`${field} must be given once, as text`, field);
  return value;
}

function optionalPositiveInteger(value: unknown, field: string): number | undefined {
  const text = optionalString(value, field);
  if (text === undefined) return undefined;
  if (!/^[1-9]\d{0,15}$/.test(text))
    throw new InvalidArgumentError(`${field} must be a positive integer`, field);
  return Number(text);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
