import { randomUUID } from 'node:crypto';
import type { RolloutPlan, RolloutRequest } from '../../common/rollout';
import { uniqueTenant } from './env';
import { type FaultRig, startFaultRig } from './faultRig';
import { type FleetMember, startInstance } from './fleet';
import { allAtOnce } from './plans';

/** The store fault tests' keys: each live at version 1, held by two instances the worker reaches directly. */
export interface StoreFaultKeys {
  /** A key live at version 1 (`first`, default `{"v":1}`) and two instances of a fresh service holding it. */
  setUp(key: string, first?: string): Promise<StoreFaultKey>;
  stop(): Promise<void>;
}

export interface StoreFaultKey {
  readonly address: { tenantId: string; key: string; service?: string };
  request(overrides?: Partial<RolloutRequest>): RolloutRequest;
  /**
   * After rollouts that each wrote `valueOf(n)` (default `{"v":n}`) as version n: every instance holds
   * the live version, the store serves it, and each rollout wrote exactly one version (by its write id).
   */
  expectConsistent(live: number, runIds: readonly string[], valueOf?: (n: number) => string): Promise<void>;
}

export const storePlan = (overrides: Partial<RolloutPlan> = {}): RolloutPlan =>
  allAtOnce({ push: { timeoutMs: 2000, attempts: 2, concurrency: 8 }, ...overrides });

export function storeFaultKeys(rig: FaultRig): StoreFaultKeys {
  const instances: FleetMember[] = [];
  return {
    async setUp(key, first = '{"v":1}') {
      const tenantId = uniqueTenant('store');
      const service = `orders-${randomUUID().slice(0, 6)}`;
      const address = { tenantId, key, ...(key.startsWith('param_config_') ? { service } : {}) };
      await rig.server.store.put(address, first, { expectedVersion: 0, makeLive: true });
      const fleet: FleetMember[] = [];
      for (let i = 0; i < 2; i += 1) {
        const member = await startInstance({
          server: rig.server,
          clients: rig.clients,
          service,
          tenancy: tenantId,
          preload: [address],
        });
        instances.push(member);
        fleet.push(member);
      }
      return {
        address,
        request: (overrides = {}) => ({
          tenantId,
          key,
          ...(address.service ? { service } : {}),
          change: { kind: 'set', value: '{"v":2}' },
          targetServices: [service],
          plan: storePlan(),
          actor: 'release-manager@store',
          ...overrides,
        }),
        async expectConsistent(live, runIds, valueOf = (n) => `{"v":${n}}`) {
          const held = await Promise.all(
            fleet.map(async (member) => (await member.client.get(tenantId, key, address.service))?.version),
          );
          expect(held).toEqual([live, live]);
          expect(await rig.server.store.getLive(address)).toMatchObject({
            version: live,
            value: valueOf(live),
          });
          const versions = await rig.versions(address);
          expect(versions.map((v) => v.version)).toEqual(
            Array.from({ length: runIds.length + 1 }, (_, i) => runIds.length + 1 - i),
          );
          for (const runId of runIds) {
            expect(versions.filter((v) => v.writeId === `rollout/${runId}`)).toHaveLength(1);
          }
        },
      };
    },
    async stop() {
      await Promise.all(instances.map((instance) => instance.client.stop()));
    },
  };
}

/**
 * A fault rig and its store keys for the whole test file: started before its tests, stopped after.
 * Read them inside tests (`world.rig`, `world.keys`), once `beforeAll` has run.
 */
export function useStoreFaultRig(
  /** The rig's worker's settings over the stack's (startFaultRig). */
  workerSettings: Record<string, string> = {},
): { readonly rig: FaultRig; readonly keys: StoreFaultKeys } {
  let rig: FaultRig | undefined;
  let keys: StoreFaultKeys | undefined;
  beforeAll(async () => {
    rig = await startFaultRig(workerSettings);
    keys = storeFaultKeys(rig);
  }, 120_000);
  afterAll(async () => {
    await keys?.stop();
    await rig?.stop();
  });
  return {
    get rig() {
      if (!rig) throw new Error('the fault rig is started in beforeAll');
      return rig;
    },
    get keys() {
      if (!keys) throw new Error('the fault rig is started in beforeAll');
      return keys;
    },
  };
}
