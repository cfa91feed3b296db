/**
 * One fleet process of bench/shardedFanout.ts: forked by it, runs its share of the fleet (bench/fleet.ts:
 * the SDK's refresh server and Cloud Map registration per instance) and counts, per instance, how many
 * times each version was applied by a push. Steered over the IPC channel; logs to stderr.
 */
import { createAwsClients, destroyAwsClients } from '../activities/awsClients';
import type { ConfigAddress } from '../common/configAddress';
import { createLogger } from '../common/logger';
import { loadAwsSettings } from '../common/settings';
import type { HeldValue } from '../sdk/heldConfig';
import { fleetDeps } from './common';
import { type Fleet, startFleet, stopFleet } from './fleet';
import { errorMessage } from '../common/errors';

export type FleetRequest =
  | { type: 'start'; service: string; size: number; address: ConfigAddress; live: HeldValue }
  | { type: 'report'; version: number }
  | { type: 'stop' };

export type FleetAnswer =
  | { type: 'ready'; startMs: number }
  | { type: 'report'; report: FleetReport }
  | { type: 'stopped' }
  | { type: 'failed'; error: string };

export interface FleetReport {
  readonly instances: number;
  /** Instances holding the version now. */
  readonly holding: number;
  /** Instances that applied a push of the version exactly once, more than once, never. */
  readonly appliedOnce: number;
  readonly appliedMoreThanOnce: number;
  readonly neverApplied: number;
}

const clients = createAwsClients(loadAwsSettings());
const deps = fleetDeps(clients, createLogger({ component: 'bench-fleet' }, 'warn'), (line) =>
  process.stderr.write(`[fleet ${process.pid}] ${line}\n`),
);
let fleet: Fleet | undefined;
let address: ConfigAddress | undefined;
/** version -> instance id -> pushes of it applied. */
const applied = new Map<number, Map<string, number>>();

const answer = (message: FleetAnswer) => process.send?.(message);

async function handle(request: FleetRequest): Promise<void> {
  if (request.type === 'start') {
    const startedAt = Date.now();
    address = request.address;
    fleet = { service: request.service, instances: [] };
    await startFleet(deps, fleet, request.size, request.address, request.live);
    for (const instance of fleet.instances) {
      instance.held.onChange(request.address.key, (change) => {
        if (change.tenantId !== request.address.tenantId || change.cause !== 'push' || !change.current)
          return;
        const counts = applied.get(change.current.version) ?? new Map<string, number>();
        counts.set(instance.instanceId, (counts.get(instance.instanceId) ?? 0) + 1);
        applied.set(change.current.version, counts);
      });
    }
    answer({ type: 'ready', startMs: Date.now() - startedAt });
  } else if (request.type === 'report') {
    const counts = applied.get(request.version) ?? new Map<string, number>();
    const instances = fleet?.instances ?? [];
    const times = instances.map((instance) => counts.get(instance.instanceId) ?? 0);
    answer({
      type: 'report',
      report: {
        instances: instances.length,
        holding: instances.filter(
          (instance) => address && instance.held.heldVersion(address) === request.version,
        ).length,
        appliedOnce: times.filter((n) => n === 1).length,
        appliedMoreThanOnce: times.filter((n) => n > 1).length,
        neverApplied: times.filter((n) => n === 0).length,
      },
    });
  } else {
    if (fleet) await stopFleet(deps, fleet);
    destroyAwsClients(clients);
    answer({ type: 'stopped' });
    process.exit(0);
  }
}

process.on('message', (request: FleetRequest) => {
  handle(request).catch((error: unknown) => answer({ type: 'failed', error: errorMessage(error) }));
});
// The parent gone, nothing is left to report to.
process.on('disconnect', () => {
  void (fleet ? stopFleet(deps, fleet) : Promise.resolve()).finally(() => process.exit(1));
});
