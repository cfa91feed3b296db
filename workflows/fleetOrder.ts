import { instanceRef, type ServiceInstance } from '../common/cloudMap';

/**
 * The order instances receive a change in: round robin across zones (instances sorted by id within
 * each), so the canary and every early wave span as many zones as they can, and a zone-local problem
 * shows before the change is everywhere. Deterministic, as workflow code must be.
 */
export function fleetOrder(instances: readonly ServiceInstance[]): ServiceInstance[] {
  const byZone = new Map<string, ServiceInstance[]>();
  for (const instance of [...instances].sort((a, b) => instanceRef(a).localeCompare(instanceRef(b)))) {
    const zone = instance.zone ?? '';
    const inZone = byZone.get(zone);
    // Appended in place: copying the zone's list per instance was quadratic, seconds at 10,000.
    if (inZone) inZone.push(instance);
    else byZone.set(zone, [instance]);
  }
  const zones = [...byZone.keys()].sort();
  const ordered: ServiceInstance[] = [];
  for (let round = 0; ordered.length < instances.length; round += 1) {
    for (const zone of zones) {
      const instance = byZone.get(zone)?.[round];
      if (instance) ordered.push(instance);
    }
  }
  return ordered;
}
