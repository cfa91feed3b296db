import { Router } from 'express';
import type { ConfigStore } from '../../activities/storage/configStore';
import type { StoredSchema } from '../../activities/storage/schemaRegistry';
import type { PutSchema, ValueSchema } from '../../common/api/schemas';
import type { Authenticate } from './authenticate';

/**
 * The JSON Schemas a tenant's values must match, per key: release managers set them, everyone who reads
 * configuration may read them. Every write and every rollout of the key is checked against its schema.
 */
export function schemaRoutes(deps: { store: ConfigStore; authenticate: Authenticate }): Router {
  const { store, authenticate } = deps;
  const router = Router();

  router.get('/schemas', async (request, response) => {
    const identity = await authenticate(request, 'config:read');
    response.json({ items: (await store.listSchemas(identity.tenantId)).map(toJson) });
  });

  router.get('/schemas/:key', async (request, response) => {
    const identity = await authenticate(request, 'config:read');
    response.json(toJson(await store.getSchema(identity.tenantId, request.params.key)));
  });

  router.put('/schemas/:key', async (request, response) => {
    const identity = await authenticate(request, 'config:write');
    const body = request.body as PutSchema;
    const stored = await store.putSchema(identity.tenantId, request.params.key, body.schema, {
      actor: identity.subject,
      ...(body.expectedVersion !== undefined ? { expectedVersion: body.expectedVersion } : {}),
    });
    response.json(toJson(stored));
  });

  router.delete('/schemas/:key', async (request, response) => {
    const identity = await authenticate(request, 'config:write');
    await store.deleteSchema(identity.tenantId, request.params.key);
    response.status(204).end();
  });

  return router;
}

function toJson(stored: StoredSchema): ValueSchema {
  return {
    key: stored.key,
    version: stored.version,
    schema: stored.schema,
    updatedAt: stored.updatedAt,
    updatedBy: stored.updatedBy,
  };
}
