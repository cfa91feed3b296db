/**
 * The baseline of issue 10's row 4: what a one-wave rollout does, done directly, without Temporal. The
 * same steps in the same order with the same code: prepare (live version, validation), write the
 * candidate, discover the instances, push with the worker's own RefreshPusher (same concurrency, same
 * retries), the same health and convergence check the wave gate runs (RefreshPusher.check), promote, and
 * discover again for the sweep. What a rollout takes beyond this is what Temporal costs: workflow tasks,
 * activity dispatch, history writes, payload encoding.
 */
import { performance } from 'node:perf_hooks';
import type { CloudMapDiscovery } from '../activities/discovery/cloudMapDiscovery';
import type { RefreshPusher } from '../activities/refresh/refreshPusher';
import type { ConfigStore } from '../activities/storage/configStore';
import type { ConfigAddress } from '../common/configAddress';
import { instanceRef } from '../common/cloudMap';
import type { PushSettings } from '../common/rollout';

export interface DirectFanoutDeps {
  readonly store: ConfigStore;
  readonly discovery: CloudMapDiscovery;
  readonly pusher: RefreshPusher;
}

export interface DirectFanoutResult {
  readonly wallMs: number;
  readonly version: number;
  readonly instances: number;
  readonly succeeded: number;
  readonly failed: number;
}

export async function directFanout(
  deps: DirectFanoutDeps,
  change: { address: ConfigAddress; service: string; value: string; settings: PushSettings; id: string },
): Promise<DirectFanoutResult> {
  const { store, discovery, pusher } = deps;
  const { address, settings } = change;
  const started = performance.now();
  await store.getLive(address);
  await store.validate(address, change.value);
  const latest = await store.latest(address);
  const written = await store.put(address, change.value, {
    expectedVersion: latest?.version ?? 0,
    makeLive: false,
    writeId: `direct/${change.id}`,
  });
  const instances = await discovery.instancesServing(address.tenantId, [change.service]);
  const payload = {
    tenantId: address.tenantId,
    key: address.key,
    version: written.version,
    value: written.value,
    format: written.format,
    rolloutId: change.id,
  };
  const pushed = await pusher.push(instances, payload, settings);
  const succeeded = new Set(pushed.succeeded);
  const updated = instances.filter((instance) => succeeded.has(instanceRef(instance)));
  const checked = await pusher.check(updated, address, written.version, settings);
  await store.promote(address, written.version);
  await discovery.instancesServing(address.tenantId, [change.service]);
  return {
    wallMs: Math.round(performance.now() - started),
    version: written.version,
    instances: instances.length,
    succeeded: checked.succeeded.length,
    failed: pushed.failed.length + checked.failed.length,
  };
}
