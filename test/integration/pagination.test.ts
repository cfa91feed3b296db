import { destroyAwsClients } from '../../activities/awsClients';
import type { ConfigAddress } from '../../common/configAddress';
import { stackClients, stackStore, uniqueTenant } from '../support/env';

/** Answers longer than one page of the AWS API are read whole: the SDK's paginators follow every token. */
const clients = stackClients();
const store = stackStore(clients);
afterAll(() => destroyAwsClients(clients));

test('a tenant with more Parameter Store keys than one GetParametersByPath page (10) lists all of them', async () => {
  const tenantId = uniqueTenant('pages');
  const keys = Array.from({ length: 23 }, (_, index) => `param_config_page${String(index).padStart(2, '0')}`);
  for (const key of keys) {
    await store.put({ tenantId, service: 'orders', key }, `https://${key}.internal`, {
      expectedVersion: 0,
      makeLive: true,
    });
  }
  expect((await store.list(tenantId)).map((entry) => entry.key)).toEqual(keys);
  expect(await store.tenants()).toContain(tenantId);
});

test('a parameter with more versions than one GetParameterHistory page (50) has its whole history read', async () => {
  const address: ConfigAddress = {
    tenantId: uniqueTenant('pages'),
    service: 'orders',
    key: 'param_config_versions',
  };
  const versions = 57;
  for (let version = 1; version <= versions; version += 1) {
    await store.put(address, `https://v${version}.orders.internal`, {
      expectedVersion: version - 1,
      makeLive: version === 1,
    });
  }
  const history = await store.history(address);
  expect(history.map((entry) => entry.version)).toEqual(
    Array.from({ length: versions }, (_, index) => versions - index),
  );
  expect(history.filter((entry) => entry.live).map((entry) => entry.version)).toEqual([1]);
});
