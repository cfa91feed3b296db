import {
  CreateServiceCommand,
  RegisterInstanceCommand,
  UpdateInstanceCustomHealthStatusCommand,
} from '@aws-sdk/client-servicediscovery';
import { randomUUID } from 'node:crypto';
import type {
  CloudMapDiscovery,
  DiscoveryCursor,
  DiscoveryPage,
} from '../../activities/discovery/cloudMapDiscovery';
import { ensureService, findNamespaceId } from '../../common/cloudMapSetup';
import { INSTANCE_ATTRIBUTES } from '../../common/cloudMap';
import type { Logger } from '../../common/logger';
import { loadRolloutWorkerSettings } from '../../common/settings';
import { createDiscovery } from '../../server/rolloutWorker';
import { stackClients } from '../support/env';
import { grantFor } from '../support/instanceGrants';

/**
 * Discovery against moto's Cloud Map. DiscoverInstances has no next page, and discovery asks it for at
 * most half a page (250) per query; a full answer makes discovery list every instance instead
 * (ListInstances pages, health from GetInstancesHealthStatus), one page of results at a time on Cloud
 * Map's cursor. A lowered cap reaches that path with a handful of instances, and both paths must find
 * exactly the same instances.
 */
const { serviceDiscovery } = stackClients();
const settings = loadRolloutWorkerSettings();
const namespace = settings.cloudMapNamespace;

function recordingLogger(): { logger: Logger; messages: string[] } {
  const messages: string[] = [];
  const logger: Logger = {
    debug: (message) => messages.push(message),
    info: (message) => messages.push(message),
    warn: (message) => messages.push(message),
    error: (message) => messages.push(message),
    child: () => logger,
  };
  return { logger, messages };
}

function discovery(logger: Logger, discoverLimit?: number): CloudMapDiscovery {
  return createDiscovery({ serviceDiscovery }, settings, logger, discoverLimit);
}

/** A service with 4 pooled instances (or `pooled`), 2 silo instances of tenant A and 1 of tenant B. */
async function fleetService(options: { customHealth: boolean; pooled?: number }) {
  const name = `discovery-${randomUUID().slice(0, 8)}`;
  let serviceId: string;
  if (options.customHealth) {
    const namespaceId = await findNamespaceId(serviceDiscovery, namespace);
    const created = await serviceDiscovery.send(
      new CreateServiceCommand({ Name: name, NamespaceId: namespaceId, HealthCheckCustomConfig: {} }),
    );
    serviceId = created.Service!.Id!;
  } else {
    serviceId = await ensureService(serviceDiscovery, namespace, name);
  }
  const members: { id: string; tenancy: string; tenant?: string }[] = [
    ...Array.from({ length: options.pooled ?? 4 }, (_, i) => ({ id: `p${i + 1}`, tenancy: 'pool' })),
    { id: 'a1', tenancy: 'silo', tenant: 'tenant-a' },
    { id: 'a2', tenancy: 'silo', tenant: 'tenant-a' },
    { id: 'b1', tenancy: 'silo', tenant: 'tenant-b' },
  ];
  const grants = [];
  for (const [index, member] of members.entries()) {
    const grant = grantFor({
      service: name,
      tenancy: member.tenancy as 'silo' | 'pool',
      ...(member.tenant ? { tenantId: member.tenant } : {}),
    });
    grants.push(grant);
    await serviceDiscovery.send(
      new RegisterInstanceCommand({
        ServiceId: serviceId,
        InstanceId: member.id,
        Attributes: {
          [INSTANCE_ATTRIBUTES.ipv4]: '127.0.0.1',
          [INSTANCE_ATTRIBUTES.port]: String(7200 + index),
          [INSTANCE_ATTRIBUTES.tenancy]: member.tenancy,
          ...(member.tenant ? { [INSTANCE_ATTRIBUTES.tenant]: member.tenant } : {}),
          [INSTANCE_ATTRIBUTES.zone]: `zone-${index % 2}`,
          [INSTANCE_ATTRIBUTES.grant]: grant.token,
        },
      }),
    );
  }
  return { name, serviceId, grants };
}

const idsOf = (instances: { instanceId: string }[]) => instances.map((instance) => instance.instanceId);

test('a full DiscoverInstances answer falls back to listing, and both paths find the same instances', async () => {
  const { name, grants } = await fleetService({ customHealth: false });
  const direct = recordingLogger();
  const listed = recordingLogger();
  const discovered = await discovery(direct.logger).instancesServing('tenant-a', [name]);
  const enumerated = await discovery(listed.logger, 3).instancesServing('tenant-a', [name]);

  expect(idsOf(discovered)).toEqual(['a1', 'a2', 'p1', 'p2', 'p3', 'p4']);
  expect(enumerated).toEqual(discovered);
  expect(enumerated[0]).toEqual({
    instanceId: 'a1',
    service: name,
    address: '127.0.0.1',
    port: 7204,
    tenancy: 'silo',
    tenantId: 'tenant-a',
    zone: 'zone-0',
    sealingKey: grants[4]!.sealingKey,
  });
  expect(direct.messages).toEqual([]);
  expect(listed.messages).toEqual(['DiscoverInstances answered its maximum; listing every instance instead']);
});

test('with health checking, both paths leave out an instance Cloud Map reports unhealthy', async () => {
  const { name, serviceId } = await fleetService({ customHealth: true });
  await serviceDiscovery.send(
    new UpdateInstanceCustomHealthStatusCommand({
      ServiceId: serviceId,
      InstanceId: 'p2',
      Status: 'UNHEALTHY',
    }),
  );
  const listed = recordingLogger();
  const discovered = await discovery(recordingLogger().logger).instancesServing('tenant-a', [name]);
  const enumerated = await discovery(listed.logger, 2).instancesServing('tenant-a', [name]);

  expect(idsOf(discovered)).toEqual(['a1', 'a2', 'p1', 'p3', 'p4']);
  expect(enumerated).toEqual(discovered);
  expect(listed.messages).toContain('DiscoverInstances answered its maximum; listing every instance instead');
});

test('another tenant gets its own silo instances and the pool, on either path', async () => {
  const { name } = await fleetService({ customHealth: false });
  for (const limit of [1000, 1]) {
    const found = await discovery(recordingLogger().logger, limit).instancesServing('tenant-b', [name]);
    expect(idsOf(found)).toEqual(['b1', 'p1', 'p2', 'p3', 'p4']);
  }
});

test('a service nobody registered has no instances, on either path', async () => {
  for (const limit of [1000, 1]) {
    const found = await discovery(recordingLogger().logger, limit).instancesServing('tenant-a', [
      `absent-${randomUUID().slice(0, 8)}`,
    ]);
    expect(found).toEqual([]);
  }
});

test("a fleet past a page is found in pages on Cloud Map's cursor: together the fleet, each instance once, none unhealthy", async () => {
  // 260 pooled answers fill DiscoverInstances' half page (250): the service is walked with ListInstances.
  const { name, serviceId } = await fleetService({ customHealth: true, pooled: 260 });
  await serviceDiscovery.send(
    new UpdateInstanceCustomHealthStatusCommand({
      ServiceId: serviceId,
      InstanceId: 'p7',
      Status: 'UNHEALTHY',
    }),
  );
  const listed = recordingLogger();
  const paged = discovery(listed.logger);
  const pages: DiscoveryPage[] = [];
  let cursor: DiscoveryCursor | undefined;
  do {
    const page = await paged.page('tenant-a', [name], cursor, 150);
    pages.push(page);
    cursor = page.next;
  } while (cursor && pages.length < 10);

  expect(pages.length).toBeGreaterThan(1);
  expect(pages.every((page) => page.instances.length <= 150)).toBe(true);
  const ids = pages.flatMap((page) => idsOf(page.instances));
  expect(new Set(ids).size).toBe(ids.length);
  expect(ids).toHaveLength(261); // 259 healthy pooled, a1, a2
  expect(ids).not.toContain('p7');
  expect(ids).not.toContain('b1');
  expect(listed.messages).toContain('DiscoverInstances answered its maximum; listing every instance instead');
  const whole = await discovery(recordingLogger().logger).instancesServing('tenant-a', [name]);
  expect(idsOf(whole)).toEqual([...ids].sort((a, b) => a.localeCompare(b)));
});
