import { setTimeout as sleep } from 'node:timers/promises';
import { isIPv4 } from 'node:net';
import { networkInterfaces } from 'node:os';
import {
  DeregisterInstanceCommand,
  GetInstanceCommand,
  GetOperationCommand,
  InstanceNotFound,
  RegisterInstanceCommand,
  type ServiceDiscoveryClient,
  ServiceNotFound,
} from '@aws-sdk/client-servicediscovery';
import { ensureService, findNamespaceId, findServiceId } from '../common/cloudMapSetup';
import { INSTANCE_ATTRIBUTES } from '../common/cloudMap';
import { CloudMapRegistrationError } from './errors';
import type { InstanceTenancy } from './tenancy';
import { errorMessage } from '../common/errors';

/** How long to wait for Cloud Map to finish a (de)registration, which it performs asynchronously. */
const OPERATION_TIMEOUT_MS = 30_000;
const OPERATION_POLL_MS = 250;
/** Deregistrations of one id before giving up on an emulator that keeps answering it. */
const MAX_DEREGISTRATIONS = 8;

export interface CloudMapRegistration {
  readonly serviceId: string;
  readonly instanceId: string;
  /** Removes the instance; an instance Cloud Map no longer knows counts as removed. */
  deregister(): Promise<void>;
  /** Whether Cloud Map still has the registration (someone may have removed it, or Cloud Map lost it). */
  isRegistered(): Promise<boolean>;
}

/** The attributes the rollout's discovery selects instances by (common/cloudMap.ts). */
export function instanceAttributes(instance: {
  readonly address: string;
  readonly port: number;
  readonly tenancy: InstanceTenancy;
  readonly zone?: string;
  /** The instance grant the config service issued for this instance's sealing key. */
  readonly grant: string;
}): Record<string, string> {
  return {
    [INSTANCE_ATTRIBUTES.grant]: instance.grant,
    [INSTANCE_ATTRIBUTES.ipv4]: instance.address,
    [INSTANCE_ATTRIBUTES.port]: String(instance.port),
    [INSTANCE_ATTRIBUTES.tenancy]: instance.tenancy.kind,
    ...(instance.tenancy.kind === 'silo' ? { [INSTANCE_ATTRIBUTES.tenant]: instance.tenancy.tenantId } : {}),
    ...(instance.zone ? { [INSTANCE_ATTRIBUTES.zone]: instance.zone } : {}),
  };
}

/**
 * The IPv4 address the control plane should push to. A server bound to every interface cannot advertise
 * its bind address, so it advertises the first external IPv4 unless told otherwise.
 */
export function advertisedAddress(bindHost: string, override?: string): string {
  if (override) {
    if (!isIPv4(override)) {
      throw new CloudMapRegistrationError(`advertiseAddress "${override}" is not an IPv4 address`);
    }
    return override;
  }
  if (isIPv4(bindHost) && bindHost !== '0.0.0.0') return bindHost;
  if (bindHost === '0.0.0.0' || bindHost === '::' || bindHost === '') {
    const external = Object.values(networkInterfaces())
      .flat()
      .find((nic) => nic !== undefined && nic.family === 'IPv4' && !nic.internal);
    if (external) return external.address;
  }
  throw new CloudMapRegistrationError(
    `cannot tell which IPv4 address to register for refresh host "${bindHost}": set advertiseAddress`,
  );
}

/** Registers (or, on Cloud Map, re-registers: it is an upsert) the instance and waits until it is done. */
export async function registerInstance(
  client: ServiceDiscoveryClient,
  request: {
    readonly namespace: string;
    readonly service: string;
    readonly instanceId: string;
    readonly attributes: Record<string, string>;
    readonly createServiceIfMissing: boolean;
  },
): Promise<CloudMapRegistration> {
  const serviceId = await resolveServiceId(client, request);
  const registered = await client.send(
    new RegisterInstanceCommand({
      ServiceId: serviceId,
      InstanceId: request.instanceId,
      Attributes: request.attributes,
    }),
  );
  await waitForOperation(client, registered.OperationId, `registering instance ${request.instanceId}`);
  return {
    serviceId,
    instanceId: request.instanceId,
    async isRegistered() {
      try {
        await client.send(new GetInstanceCommand({ ServiceId: serviceId, InstanceId: request.instanceId }));
        return true;
      } catch (error) {
        if (error instanceof InstanceNotFound || error instanceof ServiceNotFound) return false;
        throw error;
      }
    },
    /**
     * Until Cloud Map no longer knows the id: on AWS the second call finds nothing; the local stack's
     * moto keeps one registration per RegisterInstance of the same id (a renewal adds one), each to go.
     */
    async deregister() {
      for (let attempt = 0; attempt < MAX_DEREGISTRATIONS; attempt += 1) {
        try {
          const deregistered = await client.send(
            new DeregisterInstanceCommand({ ServiceId: serviceId, InstanceId: request.instanceId }),
          );
          await waitForOperation(
            client,
            deregistered.OperationId,
            `deregistering instance ${request.instanceId}`,
          );
        } catch (error) {
          if (error instanceof InstanceNotFound) return;
          throw error;
        }
      }
    },
  };
}

async function resolveServiceId(
  client: ServiceDiscoveryClient,
  request: { readonly namespace: string; readonly service: string; readonly createServiceIfMissing: boolean },
): Promise<string> {
  try {
    if (request.createServiceIfMissing)
      return await ensureService(client, request.namespace, request.service);
    const namespaceId = await findNamespaceId(client, request.namespace);
    if (!namespaceId)
      throw new CloudMapRegistrationError(`Cloud Map namespace ${request.namespace} does not exist`);
    const serviceId = await findServiceId(client, namespaceId, request.service);
    if (!serviceId) {
      throw new CloudMapRegistrationError(
        `Cloud Map service ${request.service} does not exist in namespace ${request.namespace}: ` +
          'create it with the deployment, or set createServiceIfMissing',
      );
    }
    return serviceId;
  } catch (error) {
    if (error instanceof CloudMapRegistrationError) throw error;
    throw new CloudMapRegistrationError(
      `cannot find Cloud Map service ${request.service} in namespace ${request.namespace}: ${errorMessage(error)}`,
      { cause: error },
    );
  }
}

/** Cloud Map applies (de)registrations asynchronously; an instance is discoverable only once it succeeded. */
async function waitForOperation(
  client: ServiceDiscoveryClient,
  operationId: string | undefined,
  what: string,
): Promise<void> {
  if (!operationId) throw new CloudMapRegistrationError(`Cloud Map returned no operation id ${what}`);
  const deadline = Date.now() + OPERATION_TIMEOUT_MS;
  for (;;) {
    const { Operation } = await client.send(new GetOperationCommand({ OperationId: operationId }));
    if (Operation?.Status === 'SUCCESS') return;
    if (Operation?.Status === 'FAIL') {
      throw new CloudMapRegistrationError(
        `Cloud Map failed ${what}: ${Operation.ErrorCode ?? ''} ${Operation.ErrorMessage ?? ''}`.trim(),
      );
    }
    if (Date.now() > deadline) {
      throw new CloudMapRegistrationError(
        `Cloud Map did not finish ${what} within ${OPERATION_TIMEOUT_MS} ms`,
      );
    }
    await sleep(OPERATION_POLL_MS);
  }
}
