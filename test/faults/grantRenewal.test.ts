import { setTimeout as sleep } from 'node:timers/promises';
import { DiscoverInstancesCommand } from '@aws-sdk/client-servicediscovery';
import { randomUUID } from 'node:crypto';
import { destroyAwsClients } from '../../activities/awsClients';
import { verifyInstanceGrant } from '../../common/instanceGrant';
import { keyFromFile } from '../../common/keyFiles';
import { loadRolloutWorkerSettings } from '../../common/settings';
import { stackClients, uniqueTenant } from '../support/env';
import { startInstance } from '../support/fleet';
import { startTestServer, type TestServer } from '../support/server';

/**
 * An instance grant expires: the SDK must renew it, and re-register, before it does, or rollouts stop
 * reaching a long-lived instance. With the shortest lifetime the config service allows (60 s) the
 * renewal comes at half of it; stop() then leaves no registration behind.
 */
const KEY = 'tenant_config_featureFlags';
const clients = stackClients();
const settings = loadRolloutWorkerSettings();
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ env: { INSTANCE_GRANT_TTL_SECONDS: '60' } });
}, 60_000);

afterAll(async () => {
  await server.stop();
  destroyAwsClients(clients);
});

/**
 * The grants registered for the instance. Cloud Map's RegisterInstance is an upsert, so there is one;
 * moto keeps a second registration of the same id beside the first, so there may be two.
 */
async function registeredGrants(service: string, instanceId: string): Promise<string[]> {
  const { Instances } = await clients.serviceDiscovery.send(
    new DiscoverInstancesCommand({ NamespaceName: settings.cloudMapNamespace, ServiceName: service }),
  );
  return (Instances ?? [])
    .filter((instance) => instance.InstanceId === instanceId)
    .flatMap((instance) => (instance.Attributes?.grant ? [instance.Attributes.grant] : []));
}

test('the SDK renews its instance grant at half its lifetime and re-registers; stop() removes the registration', async () => {
  const tenantId = uniqueTenant('renew');
  const service = `renew-${randomUUID().slice(0, 6)}`;
  const member = await startInstance({
    server,
    clients,
    service,
    tenancy: tenantId,
    preload: [{ tenantId, key: KEY }],
  });
  const verifyKey = keyFromFile(
    settings.instanceGrantVerifyKeyFile,
    'public',
    'INSTANCE_GRANT_VERIFY_KEY_FILE',
  );
  const [first] = await registeredGrants(service, member.client.instanceId);
  expect(first).toBeDefined();
  const firstGrant = verifyInstanceGrant(verifyKey, first!);
  expect(firstGrant.expiresAt * 1000 - Date.now()).toBeLessThanOrEqual(60_000);

  let renewed: string | undefined;
  for (let attempt = 0; attempt < 90 && renewed === undefined; attempt += 1) {
    await sleep(500);
    renewed = (await registeredGrants(service, member.client.instanceId)).find((grant) => grant !== first);
  }
  expect(renewed).toBeDefined();
  const renewedGrant = verifyInstanceGrant(verifyKey, renewed!);
  expect(renewedGrant.expiresAt).toBeGreaterThan(firstGrant.expiresAt);
  expect(renewedGrant).toMatchObject({ tenancy: 'silo', tenantId, sealingKey: member.client.sealingKey });

  await member.client.stop();
  expect(await registeredGrants(service, member.client.instanceId)).toEqual([]);
}, 90_000);
