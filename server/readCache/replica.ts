import type { ServiceDiscoveryClient } from '@aws-sdk/client-servicediscovery';
import type { KeyObject } from 'node:crypto';
import { CONFIG_SERVICE_REPLICAS } from '../../common/cloudMap';
import { signInstanceGrant } from '../../common/instanceGrant';
import type { Logger } from '../../common/logger';
import { NonceGuard, type PushTarget } from '../../common/pushGrant';
import { InstancePushSessions } from '../../common/pushSession';
import { generateSealingKeys } from '../../common/sealedValue';
import {
  advertisedAddress,
  type CloudMapRegistration,
  instanceAttributes,
  registerInstance,
} from '../../sdk/cloudMapRegistration';
import type { CachedConfigReader } from '../configReader';
import { createReadCacheHandlers, startReadCacheServer } from './noticeServer';

/** The grant is signed again, and the registration renewed with it, when this share of its life is gone. */
const RENEW_AT_SHARE = 0.5;

export interface ReadCacheReplicaOptions {
  readonly reader: CachedConfigReader;
  readonly logger: Logger;
  readonly serviceDiscovery: ServiceDiscoveryClient;
  readonly namespace: string;
  /** The rollout worker's push signing key's public half: only its sessions may send notices. */
  readonly pushVerifyKey: KeyObject;
  /** The config service's own instance grant key: a replica grants itself the reserved service. */
  readonly grantSigningKey: KeyObject;
  readonly grantTtlSeconds: number;
  readonly bindAddress: string;
  /** The notice port; 0 picks a free one, which is what the registration advertises. */
  readonly port: number;
  /** The IPv4 to register when the bind address cannot be (0.0.0.0). */
  readonly advertiseAddress?: string;
}

export interface ReadCacheReplica {
  readonly instanceId: string;
  readonly noticePort: number;
  /** Stops caching (no notice can reach it any more), deregisters, then stops the notice server. */
  stop(): Promise<void>;
}

/**
 * Makes this config service findable by the rollout worker so promotions reach its read cache
 * (proto/readCache.proto): serves ReadCache, and registers under the reserved CONFIG_SERVICE_REPLICAS
 * with a pool grant for its own sealing key. The reader keeps nothing until the registration is done: a
 * replica the worker cannot find must not hold an answer a promotion would have to wait out.
 *
 * The instance id is the advertised address and port, so a replica restarted there replaces the
 * registration a crashed one left behind.
 */
export async function startReadCacheReplica(options: ReadCacheReplicaOptions): Promise<ReadCacheReplica> {
  const { reader, logger } = options;
  reader.setCaching(false);
  const sealing = generateSealingKeys();
  const address = advertisedAddress(options.bindAddress, options.advertiseAddress);
  // Known once the notice port is: a grant names the address the worker dialled.
  const self: { target?: PushTarget } = {};
  const server = await startReadCacheServer(
    createReadCacheHandlers({
      reader,
      pushSessions: new InstancePushSessions(options.pushVerifyKey, sealing),
      nonces: new NonceGuard(),
      target: () => self.target ?? { service: CONFIG_SERVICE_REPLICAS, instanceId: '' },
      logger,
    }),
    { host: options.bindAddress, port: options.port },
  );
  const instanceId = `replica-${address}-${server.port}`;
  self.target = { service: CONFIG_SERVICE_REPLICAS, instanceId, address: `${address}:${server.port}` };
  const register = () =>
    registerInstance(options.serviceDiscovery, {
      namespace: options.namespace,
      service: CONFIG_SERVICE_REPLICAS,
      instanceId,
      attributes: instanceAttributes({
        address,
        port: server.port,
        tenancy: { kind: 'pool' },
        grant: signInstanceGrant(
          options.grantSigningKey,
          { service: CONFIG_SERVICE_REPLICAS, tenancy: 'pool', sealingKey: sealing.publicKey },
          options.grantTtlSeconds,
        ).token,
      }),
      createServiceIfMissing: true,
    });
  let registration: CloudMapRegistration;
  try {
    registration = await register();
  } catch (error) {
    await server.stop();
    throw error;
  }
  reader.setCaching(true);
  logger.info('read cache findable for promotion notices', { instanceId, noticePort: server.port });

  // An expired grant is refused by the worker's discovery, which then waits caches out: renew first.
  const renewal = setInterval(
    () => {
      register().catch((error: unknown) =>
        logger.error('read cache registration not renewed; rollouts wait out its TTL', { error }),
      );
    },
    options.grantTtlSeconds * 1000 * RENEW_AT_SHARE,
  );
  renewal.unref();

  return {
    instanceId,
    noticePort: server.port,
    async stop() {
      clearInterval(renewal);
      reader.setCaching(false);
      await registration.deregister().catch((error: unknown) =>
        logger.warn('read cache registration left behind; rollouts wait out its TTL until it goes', {
          instanceId,
          error,
        }),
      );
      await server.stop();
    },
  };
}
