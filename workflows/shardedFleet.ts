import { isCancellation } from '@temporalio/workflow';
import type { DiscoveryCursor } from '../activities/discovery/cloudMapDiscovery';
import type { FleetOutcome, InstanceFailure } from '../activities/refresh/refreshPusher';
import type { RolloutActivities } from '../activities/rolloutActivities';
import { instanceRef, type ServiceInstance } from '../common/cloudMap';
import { FLEET_SHARD_SIZE } from '../common/rollout';
import { activityFailureCause } from './failures';

type Push = Parameters<RolloutActivities['pushToInstances']>[0];
type Check = Parameters<RolloutActivities['checkInstances']>[0];
type Discover = Parameters<RolloutActivities['discoverInstances']>[0];

/** How a rollout reaches its fleet: discovery, a wave's pushes, its health check. */
export interface FleetCalls {
  /** The instances serving the tenant; with `except`, only those not among them (a sweep's joiners). */
  discover(input: Discover, except?: readonly ServiceInstance[]): Promise<ServiceInstance[]>;
  push(input: Push): Promise<FleetOutcome>;
  check(input: Check): Promise<FleetOutcome>;
}

/**
 * The fleet calls of a run: sharded (`sharded`, runs started since) or whole, as runs started before
 * sharding issued them and must replay.
 *
 * Sharded, a wave's pushes and health checks run as one activity per FLEET_SHARD_SIZE instances, all
 * scheduled at once: any worker of the task queue picks any shard, so adding workers adds push capacity,
 * and a crashed worker's shard alone is retried on another after its heartbeat timeout. A shard whose
 * activity fails for good is a failure of its instances, counted against the failure budget like any
 * other (and rolled back past it), not an error that ends the run.
 *
 * Discovery is paged: the workflow gathers pages of at most FLEET_SHARD_SIZE instances, each a cursor in
 * and a page out. Shards discovering their own part instead would keep instances out of history, but
 * the workflow must see the whole fleet to order it (fleetOrder spreads canaries across zones) and to
 * cut waves from that order, and a shard's part of a fleet that changes between shards is not stable;
 * pages of Cloud Map's own cursor are, and cost the history a few events per 500 instances.
 */
export function fleetCalls(
  activities: { discovery: RolloutActivities; fleet: RolloutActivities },
  sharded: boolean,
): FleetCalls {
  const { discovery, fleet } = activities;
  if (!sharded) {
    return {
      discover: async (input, except = []) => notAmong(await discovery.discoverInstances(input), except),
      push: (input) => fleet.pushToInstances(input),
      check: (input) => fleet.checkInstances(input),
    };
  }
  return {
    async discover(input, except = []) {
      const found = new Map<string, ServiceInstance>();
      let cursor: DiscoveryCursor | undefined;
      do {
        const page = await discovery.discoverInstancePage({ ...input, ...(cursor ? { cursor } : {}) });
        for (const instance of page.instances) found.set(instanceRef(instance), instance);
        cursor = page.next;
      } while (cursor);
      return notAmong([...found.values()], except);
    },
    push: (input) => inShards(input.instances, (instances) => fleet.pushToInstances({ ...input, instances })),
    check: (input) => {
      const excused = input.excused && new Set(input.excused);
      return inShards(input.instances, (instances) =>
        fleet.checkInstances({
          ...input,
          instances,
          ...(excused ? { excused: instances.map(instanceRef).filter((ref) => excused.has(ref)) } : {}),
        }),
      );
    },
  };
}

/** Runs `run` on every shard of `instances` at once; one outcome, as one activity would have answered. */
async function inShards(
  instances: readonly ServiceInstance[],
  run: (shard: ServiceInstance[]) => Promise<FleetOutcome>,
): Promise<FleetOutcome> {
  const shards: ServiceInstance[][] = [];
  for (let start = 0; start < instances.length; start += FLEET_SHARD_SIZE)
    shards.push(instances.slice(start, start + FLEET_SHARD_SIZE));
  const outcomes = await Promise.all(
    shards.map((shard) =>
      run(shard).catch((error: unknown): FleetOutcome => {
        // A cancelled workflow unwinds to its rollback, as it would from one activity.
        if (isCancellation(error)) throw error;
        const reason = shardFailure(error, shard.length);
        return {
          succeeded: [],
          failed: shard.map((instance) => ({ instance: instanceRef(instance), reason })),
        };
      }),
    ),
  );
  const unhealthyBefore = outcomes.flatMap((outcome) => outcome.unhealthyBefore ?? []);
  return {
    succeeded: outcomes.flatMap((outcome) => outcome.succeeded),
    failed: outcomes.flatMap((outcome): InstanceFailure[] => outcome.failed),
    ...(unhealthyBefore.length > 0 ? { unhealthyBefore } : {}),
  };
}

function shardFailure(error: unknown, size: number): string {
  const { type, message } = activityFailureCause(error);
  return `its shard of ${size} instance(s) failed${type ? ` (${type})` : ''}: ${message}`;
}

/** `instances` less those in `known`, by reference: a set, so a 10,000-instance sweep stays linear. */
function notAmong(instances: ServiceInstance[], known: readonly ServiceInstance[]): ServiceInstance[] {
  if (known.length === 0) return instances;
  const refs = new Set(known.map(instanceRef));
  return instances.filter((instance) => !refs.has(instanceRef(instance)));
}
