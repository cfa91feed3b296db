import { randomUUID } from 'node:crypto';
import type { AwsClients } from '../../activities/awsClients';
import { type FleetMember, startInstance } from './fleet';
import type { TestServer } from './server';

/**
 * `size` real SDK instances of a fresh service, holding v1 (`{"v":1}`, live) of `key` for each of
 * `tenants`: silos of the first tenant, or pooled instances serving them all. `held` answers what each
 * instance holds of a tenant's key, in fleet order.
 */
export async function startFleetHolding(options: {
  server: TestServer;
  clients: AwsClients;
  key: string;
  tenants: readonly string[];
  tenancy: 'silo' | 'pool';
  size: number;
}) {
  const { server, key, tenants } = options;
  const service = `orders-${randomUUID().slice(0, 6)}`;
  for (const tenantId of tenants)
    await server.store.put({ tenantId, key }, '{"v":1}', { expectedVersion: 0, makeLive: true });
  const fleet: FleetMember[] = [];
  for (let i = 0; i < options.size; i += 1) {
    fleet.push(
      await startInstance({
        server,
        clients: options.clients,
        service,
        tenancy: options.tenancy === 'pool' ? 'pool' : tenants[0]!,
        preload: tenants.map((tenantId) => ({ tenantId, key })),
      }),
    );
  }
  const held = (tenantId = tenants[0]!) =>
    Promise.all(fleet.map(async (member) => (await member.client.get(tenantId, key))?.version));
  return { service, fleet, held };
}

/**
 * The application's traffic: every 20 ms each instance serves `perTick` calls of the tenant's key and
 * records each, failing a share that depends on the version it holds (every n-th call, so the ratio
 * is exact). Answers the function that stops it.
 */
export function recordedTraffic(
  fleet: readonly FleetMember[],
  tenantId: string,
  key: string,
  errorRatio: (version: number) => number,
  perTick = 5,
): () => void {
  // Counted per instance, so that each instance's own ratio is exact.
  const calls = new Map<FleetMember, number>();
  const timer = setInterval(() => {
    for (const member of fleet) {
      const { client } = member;
      void client.get(tenantId, key).then((held) => {
        const version = held?.version ?? 0;
        for (let i = 0; i < perTick; i += 1) {
          const call = (calls.get(member) ?? 0) + 1;
          calls.set(member, call);
          const failing = (call % 100) / 100 < errorRatio(version);
          client.record(tenantId, key, failing ? 'error' : 'ok', { version });
        }
      });
    }
  }, 20);
  return () => clearInterval(timer);
}
