import type { AwsClients } from '../../activities/awsClients';
import type { RolloutRequest } from '../../common/rollout';
import { startInstance } from './fleet';
import type { TestServer } from './server';
import { allAtOnce } from './plans';

/**
 * Holds an instance's Refresh in flight for as long as a test needs (a worker to kill mid-push, say):
 * give `health` as the instance's health hook, which the SDK runs inside every Refresh.
 */
export function pushGate() {
  let holding = false;
  let open = () => {};
  const held = new Promise<void>((resolve) => (open = resolve));
  let pushArrived = () => {};
  const arrived = new Promise<void>((resolve) => (pushArrived = resolve));
  return {
    health: async () => {
      if (holding) {
        pushArrived();
        await held;
      }
      return true;
    },
    /** From now on a Refresh waits until `release`. */
    hold: () => {
      holding = true;
    },
    /** Resolves once a held Refresh has arrived. */
    arrived,
    release: () => {
      holding = false;
      open();
    },
  };
}

/**
 * Two instances of `service` reading `key` of the tenant: `slow`, a silo instance whose Refresh `gate`
 * holds, and `other`, pooled, answering at once.
 */
export async function startGatedPair(options: {
  server: TestServer;
  clients: AwsClients;
  tenantId: string;
  service: string;
  key: string;
}) {
  const { server, clients, tenantId, service, key } = options;
  const gate = pushGate();
  const preload = [{ tenantId, key }];
  const slow = await startInstance({
    server,
    clients,
    service,
    tenancy: tenantId,
    preload,
    health: gate.health,
  });
  const other = await startInstance({ server, clients, service, tenancy: 'pool', preload });
  return { gate, slow, other };
}

/** Version 2 of `key` to every instance in one wave: each push may wait 20 s (held), tried once. */
export function heldPushRollout(tenantId: string, service: string, key: string): RolloutRequest {
  return {
    tenantId,
    key,
    change: { kind: 'set', value: '{"v":2}' },
    targetServices: [service],
    plan: allAtOnce({ push: { timeoutMs: 20_000, attempts: 1, concurrency: 4 } }),
    actor: 'alice',
  };
}
