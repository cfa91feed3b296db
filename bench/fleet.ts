/**
 * A fleet of in-process SDK instances for benchmarks: each one the SDK's own held config and
 * CacheRefresh server, registered in Cloud Map as the SDK registers. Shared by every benchmark that
 * pushes to instances (bench/rolloutFanout.ts, bench/rolloutLatency.ts, ...), so they all measure
 * against the same thing; importing it starts nothing.
 */
import type { KeyObject } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { DeleteServiceCommand } from '@aws-sdk/client-servicediscovery';
import type { AwsClients } from '../activities/awsClients';
import { ensureService } from '../common/cloudMapSetup';
import type { ConfigAddress } from '../common/configAddress';
import { signInstanceGrant } from '../common/instanceGrant';
import { keyFromFile } from '../common/keyFiles';
import type { Logger } from '../common/logger';
import { NonceGuard } from '../common/pushGrant';
import { InstancePushSessions } from '../common/pushSession';
import { generateSealingKeys } from '../common/sealedValue';
import { type CloudMapRegistration, instanceAttributes, registerInstance } from '../sdk/cloudMapRegistration';
import { HeldConfig, type HeldValue } from '../sdk/heldConfig';
import { createCacheRefreshHandlers, type RefreshServer, startRefreshServer } from '../sdk/refreshServer';

/** Instances started and registered in Cloud Map at once. */
const START_CONCURRENCY = 32;
const HOST = '127.0.0.1';

/** What building a fleet needs: the stack's clients and the keys a deployed instance would be given. */
export interface FleetDeps {
  readonly clients: AwsClients;
  readonly namespace: string;
  readonly pushVerifyKey: KeyObject;
  /** No config service runs in a benchmark: it issues its instances' grants itself. */
  readonly grantSigningKey: KeyObject;
  readonly logger: Logger;
  /** Progress lines (stderr in a benchmark). */
  readonly log: (line: string) => void;
}

/** One instance: the SDK's own held config and CacheRefresh server, registered as the SDK registers. */
export interface Instance {
  readonly instanceId: string;
  readonly held: HeldConfig;
  readonly server: RefreshServer;
  registration?: CloudMapRegistration;
}

export interface Fleet {
  readonly service: string;
  /** Filled as instances start, so a fleet cut short by a failure can still be stopped. */
  readonly instances: Instance[];
  /** Set once stopping began: the normal path and a clean-up after a timeout may both ask. */
  stopping?: Promise<void>;
}

/** The keys the local stack's environment (localStackEnv()) names. */
export function fleetKeysFromEnv(): Pick<FleetDeps, 'pushVerifyKey' | 'grantSigningKey'> {
  return {
    pushVerifyKey: keyFromFile(requiredEnv('PUSH_VERIFY_KEY_FILE'), 'public', 'PUSH_VERIFY_KEY_FILE'),
    grantSigningKey: keyFromFile(
      requiredEnv('INSTANCE_GRANT_SIGNING_KEY_FILE'),
      'private',
      'INSTANCE_GRANT_SIGNING_KEY_FILE',
    ),
  };
}

/**
 * What ConfigClient.start does, minus the ConfigService reader and the version check, which a rollout
 * never touches: the held config (here holding the live version, as after a first load), the CacheRefresh
 * server with the SDK's handlers, and the SDK's Cloud Map registration (pooled tenancy). Instance ids are
 * `<service>-<index>`: unique per service, since moto's RegisterInstance is not an upsert.
 */
export async function startFleet(
  deps: FleetDeps,
  fleet: Fleet,
  size: number,
  address: ConfigAddress,
  live: HeldValue,
): Promise<void> {
  await ensureService(deps.clients.serviceDiscovery, deps.namespace, fleet.service);
  const tenancy = { kind: 'pool' } as const;
  await forEachLimited(size, START_CONCURRENCY, async (index) => {
    const instanceId = `${fleet.service}-${String(index).padStart(4, '0')}`;
    const held = new HeldConfig((error) => deps.logger.error('listener failed', { instanceId, error }));
    held.applyRead(address, { version: live.version, value: live.value, format: live.format }, 'load');
    const sealingKeys = generateSealingKeys();
    // Known once the server listens; pushes arrive only after that.
    const listening: { address?: string } = {};
    const server = await startRefreshServer(
      createCacheRefreshHandlers({
        service: fleet.service,
        tenancy,
        pushSessions: new InstancePushSessions(deps.pushVerifyKey, sealingKeys),
        nonces: new NonceGuard(),
        held,
        status: () => Promise.resolve('SERVING'),
        target: () => ({
          service: fleet.service,
          instanceId,
          ...(listening.address ? { address: listening.address } : {}),
        }),
        logger: deps.logger,
      }),
      { host: HOST, port: 0 },
    );
    listening.address = `${HOST}:${server.port}`;
    const { token: grant } = signInstanceGrant(deps.grantSigningKey, {
      service: fleet.service,
      tenancy: 'pool',
      sealingKey: sealingKeys.publicKey,
    });
    const instance: Instance = { instanceId, held, server };
    fleet.instances.push(instance);
    instance.registration = await registerInstance(deps.clients.serviceDiscovery, {
      namespace: deps.namespace,
      service: fleet.service,
      instanceId,
      attributes: instanceAttributes({ address: HOST, port: server.port, tenancy, grant }),
      createServiceIfMissing: false,
    });
  });
}

/** Instances not holding `version` of `address`, as "<id>@v<held>" (at most `sample` of them). */
export function instancesBehind(fleet: Fleet, address: ConfigAddress, version: number, sample = 5) {
  const behind = fleet.instances.filter((instance) => instance.held.heldVersion(address) !== version);
  return {
    count: behind.length,
    sample: behind.slice(0, sample).map((i) => `${i.instanceId}@v${i.held.heldVersion(address)}`),
  };
}

/** Deregisters every instance (as ConfigClient.stop does, first), stops the servers, removes the service. */
export function stopFleet(deps: FleetDeps, fleet: Fleet): Promise<void> {
  fleet.stopping ??= stopInstances(deps, fleet);
  return fleet.stopping;
}

async function stopInstances(deps: FleetDeps, fleet: Fleet): Promise<void> {
  const startedAt = performance.now();
  const { instances } = fleet;
  let deregisterFailures = 0;
  await forEachLimited(instances.length, START_CONCURRENCY, async (index) => {
    await instances[index]?.registration?.deregister().catch((error: unknown) => {
      deregisterFailures += 1;
      if (deregisterFailures === 1) deps.log(`deregistration failed: ${describeError(error)}`);
    });
  });
  await Promise.all(instances.map((instance) => instance.server.stop()));
  try {
    const serviceId = await ensureService(deps.clients.serviceDiscovery, deps.namespace, fleet.service);
    await deps.clients.serviceDiscovery.send(new DeleteServiceCommand({ Id: serviceId }));
  } catch (error) {
    deps.log(`could not delete Cloud Map service ${fleet.service}: ${describeError(error)}`);
  }
  deps.log(
    `${fleet.service}: ${instances.length} instances stopped in ${Math.round(performance.now() - startedAt)} ms` +
      (deregisterFailures ? ` (${deregisterFailures} deregistration failures)` : ''),
  );
}

/** Runs `task(0..count-1)` with at most `limit` at once; after a failure starts no more, then rethrows it. */
export async function forEachLimited(
  count: number,
  limit: number,
  task: (index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed: { error: unknown } | undefined;
  const runner = async () => {
    for (let index = next++; index < count && !failed; index = next++) {
      try {
        await task(index);
      } catch (error) {
        failed ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, runner));
  if (failed) throw failed.error;
}

/** An error's message and its cause's, for a progress line. */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
    return `${error.message}${cause}`;
  }
  return String(error);
}

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (localStackEnv() should have set it)`);
  return value;
}
