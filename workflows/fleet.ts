import { patched } from '@temporalio/workflow';
import type { ServiceInstance } from '../common/cloudMap';
import type { RolloutResult } from '../common/rollout';
import { discovery, fleet } from './activityGroups';
import { fleetOrder } from './fleetOrder';
import { FAIL_CLOSED_ON_EMPTY_FLEET, SHARDED_FLEET } from './patches';
import type { Candidate } from './prepare';
import type { Rollout } from './rolloutState';
import { type FleetCalls, fleetCalls } from './shardedFleet';

/** The instances a rollout reaches, in the order waves take them, and those it has pushed to so far. */
export interface Fleet {
  readonly calls: FleetCalls;
  readonly instances: readonly ServiceInstance[];
  /** Sent the candidate (a wave's batch, a sweep's joiners): what a rollback reverts. */
  readonly pushed: ServiceInstance[];
}

/** How this run reaches its fleet: sharded since the patch, whole before it. */
export function fleetCallsOf(): FleetCalls {
  return fleetCalls({ discovery, fleet }, patched(SHARDED_FLEET));
}

/** Who serves the rollout's tenant among its target services. */
export function discoveryOf(rollout: Rollout): Parameters<FleetCalls['discover']>[0] {
  return { tenantId: rollout.request.tenantId, services: rollout.request.targetServices };
}

/** The discovered instances in the order waves take them (zones spread, see fleetOrder). */
export function fleetOf(rollout: Rollout, calls: FleetCalls, discovered: ServiceInstance[]): Fleet {
  const instances = fleetOrder(discovered);
  rollout.total = instances.length;
  return { calls, instances, pushed: [] };
}

/**
 * No instance, no gate: an empty discovery may be a lost Cloud Map as much as an idle service. Nothing
 * was pushed, so nothing is reverted: the candidate simply never goes live. Undefined when the rollout
 * goes on (instances found, or the plan allows an empty fleet).
 */
export function failClosedOnEmptyFleet(rollout: Rollout, candidate: Candidate): RolloutResult | undefined {
  const { request } = rollout;
  if (rollout.total > 0 || request.plan.allowEmptyFleet || !patched(FAIL_CLOSED_ON_EMPTY_FLEET))
    return undefined;
  const reason =
    `no instance of ${request.targetServices.join(', ')} serves the tenant, so nothing can gate this ` +
    'change; start it again once instances run, or with plan.allowEmptyFleet to promote anyway';
  rollout.enter('ROLLED_BACK');
  rollout.outcome = `rolled back: ${reason}`;
  rollout.publish();
  return {
    state: 'ROLLED_BACK',
    candidateVersion: candidate.target.version,
    ...(candidate.previous ? { liveVersion: candidate.previous.version } : {}),
    updatedInstances: 0,
    failedInstances: 0,
    reason,
  };
}
