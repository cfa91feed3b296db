import { Router } from 'express';
import type { FreezeStore } from '../../activities/storage/freezeStore';
import type { FreezeState } from '../../common/api/freezes';
import type { Freeze, FreezeScope, GatesChange } from '../../common/freezes';
import type { Action } from '../auth/identity';
import type { GateSignals } from '../rollouts/gateSignals';
import type { Authenticate } from './authenticate';

/**
 * Freezes and change windows. `/v1/freeze` is the caller's tenant's (its release managers set it);
 * `/v1/platform/freeze` holds every tenant's rollouts (platform administrators only). A change is
 * signalled to the running rollouts it concerns, so a held one moves at once; they read it durably anyway.
 */
export function freezeRoutes(deps: {
  freezes: FreezeStore;
  signals?: GateSignals;
  authenticate: Authenticate;
}): Router {
  const { freezes, signals, authenticate } = deps;
  const router = Router();
  const notify = (tenantId: string | undefined, change: GatesChange) =>
    signals ? signals.notify(tenantId, change) : Promise.resolve(0);

  const freezeResource = (path: string, scope: FreezeScope, setAction: Action) => {
    // A platform freeze concerns every tenant's rollouts; a tenant's, only its own.
    const audience = (tenantId: string) => (scope === 'platform' ? undefined : tenantId);

    router.get(path, async (request, response) => {
      const identity = await authenticate(request, 'freeze:read');
      response.json(freezeJson(await freezes.getFreeze(scope, identity.tenantId)));
    });

    router.put(path, async (request, response) => {
      const identity = await authenticate(request, setAction);
      const { reason } = request.body as { reason?: unknown };
      const freeze = await freezes.putFreeze(scope, identity.tenantId, reason, identity.subject);
      const signalled = await notify(audience(identity.tenantId), {
        actor: identity.subject,
        action: 'freeze',
      });
      response.json({ ...freezeJson(freeze), signalled });
    });

    router.delete(path, async (request, response) => {
      const identity = await authenticate(request, setAction);
      await freezes.deleteFreeze(scope, identity.tenantId);
      await notify(audience(identity.tenantId), { actor: identity.subject, action: 'unfreeze' });
      response.status(204).end();
    });
  };
  freezeResource('/freeze', 'tenant', 'rollout:act');
  freezeResource('/platform/freeze', 'platform', 'freeze:platform');

  router.get('/change-windows', async (request, response) => {
    const identity = await authenticate(request, 'rollout:read');
    response.json(await freezes.getWindows(identity.tenantId));
  });

  router.put('/change-windows', async (request, response) => {
    const identity = await authenticate(request, 'rollout:act');
    const { windows } = request.body as { windows?: unknown };
    const stored = await freezes.putWindows(identity.tenantId, windows, identity.subject);
    const signalled = await notify(identity.tenantId, { actor: identity.subject, action: 'windows' });
    response.json({ ...stored, signalled });
  });

  router.delete('/change-windows', async (request, response) => {
    const identity = await authenticate(request, 'rollout:act');
    await freezes.deleteWindows(identity.tenantId);
    await notify(identity.tenantId, { actor: identity.subject, action: 'windows' });
    response.status(204).end();
  });

  return router;
}

function freezeJson(freeze: Freeze | undefined): FreezeState {
  return freeze ? { frozen: true, ...freeze } : { frozen: false };
}
