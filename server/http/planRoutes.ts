import { Router } from 'express';
import type { OutOfBandPlanStore } from '../../activities/storage/outOfBandPlanStore';
import type { PutRolloutPlan, RolloutPlanEntry } from '../../common/api/plans';
import { completePlan, type PlanScope, type StoredPlan } from '../../common/outOfBandPlans';
import type { Authenticate } from './authenticate';
import { optionalString } from './requestValues';

/**
 * The plans out-of-band Parameter Store edits of the caller's tenant roll out with, per key or key
 * prefix (optionally per service): release managers set them, operators read them. The tenant is the
 * token's; the Lambda applies a plan only to edits of that tenant's parameters.
 */
export function planRoutes(deps: { plans: OutOfBandPlanStore; authenticate: Authenticate }): Router {
  const { plans, authenticate } = deps;
  const router = Router();

  router.get('/rollout-plans', async (request, response) => {
    const identity = await authenticate(request, 'rollout:read');
    response.json({ items: (await plans.list(identity.tenantId)).map(toJson) });
  });

  router.get('/rollout-plans/:selector', async (request, response) => {
    const identity = await authenticate(request, 'rollout:read');
    response.json(toJson(await plans.get(identity.tenantId, scopeOf(request))));
  });

  router.put('/rollout-plans/:selector', async (request, response) => {
    const identity = await authenticate(request, 'rollout:act');
    const { plan } = request.body as PutRolloutPlan;
    const stored = await plans.put(identity.tenantId, scopeOf(request), completePlan(plan), identity.subject);
    response.json(toJson(stored));
  });

  router.delete('/rollout-plans/:selector', async (request, response) => {
    const identity = await authenticate(request, 'rollout:act');
    await plans.delete(identity.tenantId, scopeOf(request));
    response.status(204).end();
  });

  return router;
}

function scopeOf(request: { params: { selector?: string }; query: Record<string, unknown> }): PlanScope {
  const service = optionalString(request.query.service, 'service');
  return { selector: request.params.selector ?? '', ...(service ? { service } : {}) };
}

function toJson(stored: StoredPlan): RolloutPlanEntry {
  return {
    selector: stored.selector,
    ...(stored.service ? { service: stored.service } : {}),
    plan: stored.plan,
    updatedAt: stored.updatedAt,
    updatedBy: stored.updatedBy,
  };
}
