import { setTimeout as sleep } from 'node:timers/promises';
import {
  GetServiceCommand,
  CreateHttpNamespaceCommand,
  CreateServiceCommand,
  paginateListNamespaces,
  paginateListServices,
  ServiceAlreadyExists,
  type ServiceDiscoveryClient,
} from '@aws-sdk/client-servicediscovery';

/**
 * Creating Cloud Map resources is setup's job (and the AWS template's), not a request's. These helpers
 * make the local stack's namespace and let a locally run service create its own Cloud Map service.
 */
export async function findNamespaceId(
  client: ServiceDiscoveryClient,
  name: string,
): Promise<string | undefined> {
  for await (const page of paginateListNamespaces({ client }, {})) {
    const found = page.Namespaces?.find((namespace) => namespace.Name === name);
    if (found?.Id) return found.Id;
  }
  return undefined;
}

export async function ensureHttpNamespace(
  client: ServiceDiscoveryClient,
  name: string,
): Promise<'created' | 'exists'> {
  if (await findNamespaceId(client, name)) return 'exists';
  await client.send(new CreateHttpNamespaceCommand({ Name: name, Description: 'config rollout platform' }));
  // Namespace creation is an asynchronous operation in Cloud Map; wait until the namespace is listed.
  for (let attempt = 0; attempt < 60; attempt += 1) {
    if (await findNamespaceId(client, name)) return 'created';
    await sleep(500);
  }
  throw new Error(`Cloud Map namespace ${name} was not created`);
}

/** The names of every service in the namespace; none when the namespace does not exist. */
export async function listServiceNames(
  client: ServiceDiscoveryClient,
  namespaceName: string,
): Promise<string[]> {
  const namespaceId = await findNamespaceId(client, namespaceName);
  if (!namespaceId) return [];
  const names: string[] = [];
  for await (const service of servicesIn(client, namespaceId)) if (service.Name) names.push(service.Name);
  return names.sort();
}

export async function findServiceId(
  client: ServiceDiscoveryClient,
  namespaceId: string,
  service: string,
): Promise<string | undefined> {
  for await (const candidate of servicesIn(client, namespaceId)) {
    if (candidate.Name !== service || !candidate.Id) continue;
    // The local stack's moto ignores the namespace filter and lists every namespace's services: a
    // namesake in another namespace is not this one (on AWS, this asks once what the filter said).
    const { Service } = await client.send(new GetServiceCommand({ Id: candidate.Id }));
    if (Service?.NamespaceId === namespaceId) return candidate.Id;
  }
  return undefined;
}

async function* servicesIn(client: ServiceDiscoveryClient, namespaceId: string) {
  const pages = paginateListServices(
    { client },
    { Filters: [{ Name: 'NAMESPACE_ID', Values: [namespaceId], Condition: 'EQ' }] },
  );
  for await (const page of pages) yield* page.Services ?? [];
}

export async function ensureService(
  client: ServiceDiscoveryClient,
  namespaceName: string,
  service: string,
): Promise<string> {
  const namespaceId = await findNamespaceId(client, namespaceName);
  if (!namespaceId) throw new Error(`Cloud Map namespace ${namespaceName} does not exist`);
  const existing = await findServiceId(client, namespaceId, service);
  if (existing) return existing;
  try {
    const created = await client.send(new CreateServiceCommand({ Name: service, NamespaceId: namespaceId }));
    if (!created.Service?.Id) throw new Error(`Cloud Map did not return an id for service ${service}`);
    return created.Service.Id;
  } catch (error) {
    // Another instance created it between our lookup and our create: use theirs.
    if (!(error instanceof ServiceAlreadyExists)) throw error;
    const raced = error.ServiceId ?? (await findServiceId(client, namespaceId, service));
    if (!raced) throw error;
    return raced;
  }
}
