import { instanceRef, type ServiceInstance } from '../../common/cloudMap';
import { NotFoundError } from '../../common/errors';
import { assertServiceName, assertTenantId } from '../../common/identifiers';
import type { Logger } from '../../common/logger';
import type { ReconcileResult, ReconcileScope, Repair } from '../../common/reconcile';
import { DEFAULT_PUSH_SETTINGS, type PushSettings } from '../../common/rollout';
import type { CloudMapDiscovery } from '../discovery/cloudMapDiscovery';
import type { RefreshPusher } from '../refresh/refreshPusher';
import { progressHeartbeat } from '../rolloutActivities';
import type { ConfigStore } from '../storage/configStore';
import type { ConfigAddress } from '../../common/configAddress';
import { type KeyState, type RepairPlan, repairFor } from './drift';
import type { RolloutRecords } from './rolloutRecords';

export interface ReconcileActivityDeps {
  readonly store: ConfigStore;
  readonly discovery: CloudMapDiscovery;
  readonly pusher: RefreshPusher;
  readonly records: RolloutRecords;
  readonly logger: Logger;
  /** Lists the consuming services registered in Cloud Map, for a fleet-wide pass. */
  readonly services: () => Promise<string[]>;
}

/** Repairs named one by one in a result; the rest are counted. */
const MAX_REPORTED_REPAIRS = 100;

/**
 * The reconciler's activities: compare what every instance holds of a tenant's keys with the store, and
 * repair the drift with the same signed pushes rollouts make. Built from their clients, like the
 * rollout's; the workflow imports only their type.
 */
export function createReconcileActivities(deps: ReconcileActivityDeps) {
  const { store, discovery, pusher, records, logger } = deps;

  /** The tenant's keys the service's instances may hold, with the store's state of each. */
  const keyStates = async (scope: ReconcileScope): Promise<KeyState[]> => {
    const live = await store.list(scope.tenantId, scope.service);
    const states = new Map<string, KeyState>();
    for (const version of live) {
      const address = store.normalize({
        tenantId: scope.tenantId,
        key: version.key,
        service: version.service,
      });
      states.set(idOf(address), { address, live: version, stored: true });
    }
    // A removed key, or one whose only version never went live, is known from the rollouts that touched it.
    for (const touched of await records.recentKeys(scope.tenantId, scope.service, Date.now())) {
      const address = normalizedOrNone(store, touched);
      if (!address || states.has(idOf(address))) continue;
      const current = await store.getLive(address).catch((error: unknown) => {
        if (error instanceof NotFoundError) return undefined;
        throw error;
      });
      const stored = current !== undefined || (await store.latest(address)) !== undefined;
      states.set(idOf(address), { address, ...(current ? { live: current } : {}), stored });
    }
    return [...states.values()];
  };

  return {
    /**
     * The tenants the store keeps keys of or that rolled something out lately, and the services
     * registered in Cloud Map.
     */
    async reconcileTargets(): Promise<{ tenants: string[]; services: string[] }> {
      const [stored, recent, services] = await Promise.all([
        store.tenants(),
        records.recentTenants(Date.now()),
        deps.services(),
      ]);
      return { tenants: [...new Set([...stored, ...recent])].sort(), services };
    },

    /**
     * One pass for one tenant on one service's instances: ask each what it holds of the tenant's keys
     * (one Health call per instance), and push what brings it to the store's state. Keys with a rollout
     * running are left to it.
     */
    async reconcileTenant(input: {
      scope: ReconcileScope;
      passId: string;
      settings?: PushSettings;
    }): Promise<ReconcileResult> {
      const { scope } = input;
      assertTenantId(scope.tenantId);
      assertServiceName(scope.service);
      const settings = input.settings ?? DEFAULT_PUSH_SETTINGS;
      const beat = progressHeartbeat();
      const states = await keyStates(scope);
      const instances =
        states.length > 0 ? await discovery.instancesServing(scope.tenantId, [scope.service]) : [];
      const { held, failed: unreachable } = await pusher.heldVersions(
        instances,
        states.map((state) => state.address),
        settings,
        beat,
      );

      // Instances grouped by the push that repairs them: one fan-out per distinct push.
      const plans = new Map<
        string,
        { plan: RepairPlan; state: KeyState; targets: ServiceInstance[]; held: number[] }
      >();
      for (const instance of instances) {
        const versions = held.get(instanceRef(instance));
        if (!versions) continue;
        states.forEach((state, index) => {
          const plan = repairFor(state, versions[index] ?? 0);
          if (!plan) return;
          const id = JSON.stringify([
            idOf(state.address),
            plan.payload.version,
            plan.payload.revertFrom ?? 0,
          ]);
          const group = plans.get(id) ?? { plan, state, targets: [], held: [] };
          group.targets.push(instance);
          group.held.push(versions[index] ?? 0);
          plans.set(id, group);
        });
      }

      const repairs: Repair[] = [];
      const skipped = new Map<string, string>();
      for (const { plan, state, targets, held: heldBefore } of plans.values()) {
        const keyId = idOf(state.address);
        if (skipped.has(keyId)) continue;
        // Checked now, not when the keys were listed: a rollout started since owns the key.
        if (await records.running(state.address)) {
          skipped.set(keyId, state.address.key);
          continue;
        }
        const outcome = await pusher.push(
          targets,
          { ...plan.payload, rolloutId: `reconcile/${input.passId}` },
          settings,
          beat,
        );
        const failures = new Map(outcome.failed.map((failure) => [failure.instance, failure.reason]));
        targets.forEach((instance, index) => {
          const ref = instanceRef(instance);
          const reason = failures.get(ref);
          const repair: Repair = {
            instance: ref,
            key: state.address.key,
            ...(state.address.service ? { service: state.address.service } : {}),
            kind: plan.kind,
            heldVersion: heldBefore[index] ?? 0,
            sentVersion: plan.payload.version,
            succeeded: reason === undefined,
            ...(reason !== undefined ? { reason } : {}),
          };
          repairs.push(repair);
          logger.warn('reconciler repaired drift', {
            passId: input.passId,
            tenantId: scope.tenantId,
            ...repair,
          });
        });
      }
      return {
        tenantId: scope.tenantId,
        service: scope.service,
        instances: instances.length,
        keys: states.length,
        skippedKeys: [...skipped.values()],
        unreachable: unreachable.map(({ instance, reason }) => ({ instance, reason })),
        repairs: repairs.slice(0, MAX_REPORTED_REPAIRS),
        moreRepairs: Math.max(0, repairs.length - MAX_REPORTED_REPAIRS),
      };
    },
  };
}

export type ReconcileActivities = ReturnType<typeof createReconcileActivities>;

function idOf(address: ConfigAddress): string {
  return JSON.stringify([address.tenantId, address.service ?? '', address.key]);
}

/** A key named by a rollout's id may belong to a backend no longer registered: such a key is skipped. */
function normalizedOrNone(store: ConfigStore, address: ConfigAddress): ConfigAddress | undefined {
  try {
    return store.normalize(address);
  } catch {
    return undefined;
  }
}
