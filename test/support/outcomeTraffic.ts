import type { FleetMember } from './fleet';

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
