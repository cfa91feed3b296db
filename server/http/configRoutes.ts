import { Router } from 'express';
import { DEFAULT_HISTORY_PAGE_SIZE } from '../../activities/storage/configStore';
import type { ConfigEntry, ConfigHistoryEntry } from '../../common/api/configs';
import type { ConfigVersion, HistoryEntry } from '../../activities/storage/types';
import type { CachedConfigReader } from '../configReader';
import type { Authenticate } from './authenticate';
import { historyPageStart, historyPageToken } from './historyPageToken';
import { optionalPositiveInteger, optionalString } from './requestValues';

/** Reads of the caller's tenant's configuration. */
export function configRoutes(deps: { reader: CachedConfigReader; authenticate: Authenticate }): Router {
  const router = Router();

  router.get('/configs', async (request, response) => {
    const identity = await deps.authenticate(request, 'config:read');
    const entries = await deps.reader.list(
      identity.tenantId,
      optionalString(request.query.service, 'service'),
    );
    response.json({ items: entries.map(toJson) });
  });

  router.get('/configs/:key', async (request, response) => {
    const identity = await deps.authenticate(request, 'config:read');
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

  router.get('/configs/:key/history', async (request, response) => {
    const identity = await deps.authenticate(request, 'config:read');
    const address = {
      tenantId: identity.tenantId,
      key: request.params.key,
      service: optionalString(request.query.service, 'service'),
    };
    const page = await deps.reader.historyPage(address, {
      pageSize: optionalPositiveInteger(request.query.pageSize, 'pageSize') ?? DEFAULT_HISTORY_PAGE_SIZE,
      before: historyPageStart(address, optionalString(request.query.pageToken, 'pageToken')),
    });
    const last = page.entries.at(-1);
    response.json({
      items: page.entries.map(historyJson),
      ...(page.more && last ? { nextPageToken: historyPageToken(address, last.version) } : {}),
    });
  });

  return router;
}

function toJson(entry: ConfigVersion): ConfigEntry {
  return {
    key: entry.key,
    ...(entry.service ? { service: entry.service } : {}),
    version: entry.version,
    value: entry.value,
    format: entry.format,
    updatedAt: entry.updatedAt,
  };
}

function historyJson(entry: HistoryEntry): ConfigHistoryEntry {
  return {
    ...toJson(entry),
    live: entry.live,
    ...(entry.writeId ? { writtenBy: entry.writeId } : {}),
    ...(entry.copyOf ? { copyOf: entry.copyOf } : {}),
  };
}
