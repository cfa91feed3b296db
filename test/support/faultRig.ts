import type { Client } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { createAwsClients, destroyAwsClients, type AwsClients } from '../../activities/awsClients';
import type { ConfigAddress } from '../../common/configAddress';
import { createLogger } from '../../common/logger';
import {
  loadAwsSettings,
  loadRolloutWorkerSettings,
  loadStorageSettings,
  loadTemporalSettings,
} from '../../common/settings';
import { createRolloutWorker, type RolloutWorker } from '../../server/rolloutWorker';
import { createTemporalClient } from '../../rolloutClient';
import { stackClients } from './env';
import { type FleetMember, requiredEnv, startInstance } from './fleet';
import { startTestServer, type TestServer } from './server';
import { type FaultProxy, type ProxiedLink, startFaultProxy } from './toxiproxy';

/**
 * A fault test's world: the real config service (unproxied: instances load through it), and a rollout
 * worker of the test's own whose DynamoDB, Parameter Store and Cloud Map sockets go through a
 * Toxiproxy of the test's own. Assertions read the stores directly, around the proxy.
 */
export interface FaultRig {
  readonly server: TestServer;
  /** Direct clients of the stack: what the test registers and asserts with. */
  readonly clients: AwsClients;
  readonly faults: FaultProxy;
  /** The worker's DynamoDB link. */
  readonly dynamodb: ProxiedLink;
  /** The worker's Parameter Store link, and its Cloud Map link (one moto server behind both). */
  readonly ssm: ProxiedLink;
  readonly cloudMap: ProxiedLink;
  /** The worker's CloudWatch link (the alarm gate's; the same moto server behind it). */
  readonly cloudWatch: ProxiedLink;
  readonly temporal: Client;
  readonly taskQueue: string;
  /** A real SDK instance the worker reaches only through a proxy of its own (`link`). */
  proxiedInstance(options: Parameters<typeof startInstance>[0]): Promise<FleetMember & { link: ProxiedLink }>;
  /** Every version the store holds for the key, and the write that made each: "written once" checks. */
  versions(address: ConfigAddress): Promise<{ version: number; writeId?: string }[]>;
  stop(): Promise<void>;
}

/**
 * Loopback addresses: instances bind the first (a free port there), the proxy in front of each listens
 * on the second at the same port. Nothing else binds the second, so that port is free there too.
 */
const INSTANCE_HOST = '127.0.0.1';
const PROXY_HOST = '127.0.0.2';

/** `workerSettings`: the rig's worker's environment over the stack's (ALARM_POLL_INTERVAL_MS, say). */
export async function startFaultRig(workerSettings: Record<string, string> = {}): Promise<FaultRig> {
  const server = await startTestServer();
  const clients = stackClients();
  const faults = await startFaultProxy();
  const dynamodb = await faults.proxy('dynamodb', hostPort(requiredEnv('AWS_ENDPOINT_URL_DYNAMODB')));
  const ssm = await faults.proxy('ssm', hostPort(requiredEnv('AWS_ENDPOINT_URL_SSM')));
  const cloudMap = await faults.proxy(
    'cloud-map',
    hostPort(requiredEnv('AWS_ENDPOINT_URL_SERVICEDISCOVERY')),
  );
  const cloudWatch = await faults.proxy('cloudwatch', hostPort(requiredEnv('AWS_ENDPOINT_URL_CLOUDWATCH')));
  const workerEnv = {
    ...process.env,
    ...workerSettings,
    AWS_ENDPOINT_URL_CLOUDWATCH: `http://${cloudWatch.listen}`,
    AWS_ENDPOINT_URL_DYNAMODB: `http://${dynamodb.listen}`,
    AWS_ENDPOINT_URL_SSM: `http://${ssm.listen}`,
    AWS_ENDPOINT_URL_SERVICEDISCOVERY: `http://${cloudMap.listen}`,
  };
  const workerClients = createAwsClients(loadAwsSettings(workerEnv));
  const taskQueue = `rollouts-${randomUUID()}`;
  const temporalSettings = loadTemporalSettings({ ...process.env, TEMPORAL_TASK_QUEUE: taskQueue });
  const temporal = await createTemporalClient(temporalSettings);
  const worker: RolloutWorker = await createRolloutWorker({
    clients: workerClients,
    temporal: temporalSettings,
    storage: loadStorageSettings(workerEnv),
    // No instance joins during a fault test: no last sweep to wait for after the read caches.
    rollout: loadRolloutWorkerSettings({ ...workerEnv, CONFIG_CACHE_TTL_MS: '0' }),
    logger: createLogger({ component: 'fault-worker' }, 'error'),
  });
  void worker.run();
  const instances: FleetMember[] = [];

  return {
    server,
    clients,
    faults,
    dynamodb,
    ssm,
    cloudMap,
    cloudWatch,
    temporal,
    taskQueue,
    async proxiedInstance(options) {
      // Bound on one loopback address and advertised on another at the same port, where its proxy
      // listens: pushes carry (and the instance checks) the advertised address, as through a real NAT.
      const member = await startInstance({
        ...options,
        refreshHost: INSTANCE_HOST,
        advertiseAddress: PROXY_HOST,
      });
      instances.push(member);
      const port = member.client.refreshPort;
      const link = await faults.proxy(
        `instance-${port}`,
        `${INSTANCE_HOST}:${port}`,
        `${PROXY_HOST}:${port}`,
      );
      return { ...member, link };
    },
    async versions(address) {
      return (await server.store.history(address)).map(({ version, writeId }) => ({
        version,
        ...(writeId ? { writeId } : {}),
      }));
    },
    async stop() {
      await Promise.all(instances.map((instance) => instance.client.stop()));
      await worker.shutdown();
      await temporal.connection.close();
      destroyAwsClients(workerClients);
      destroyAwsClients(clients);
      await faults.stop();
      await server.stop();
    },
  };
}

function hostPort(url: string): string {
  return new URL(url).host;
}
