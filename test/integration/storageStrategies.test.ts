import { PutParameterCommand } from '@aws-sdk/client-ssm';
import type { AwsClients } from '../../activities/awsClients';
import { destroyAwsClients } from '../../activities/awsClients';
import type { ConfigStore } from '../../activities/storage/configStore';
import type { ConfigAddress } from '../../common/configAddress';
import {
  InvalidArgumentError,
  InvalidJsonError,
  NotFoundError,
  UnknownPrefixError,
  ValueTooLargeError,
  VersionConflictError,
  VersionLimitError,
} from '../../common/errors';
import { stackClients, stackStore, uniqueTenant } from '../support/env';

let clients: AwsClients;
let store: ConfigStore;

beforeAll(() => {
  clients = stackClients();
  store = stackStore(clients);
});

afterAll(() => destroyAwsClients(clients));

/** Both backends must keep the same contract; each runs the same cases against its real local server. */
const backends = [
  {
    name: 'DynamoDB (moto)',
    key: 'tenant_config_featureFlags',
    service: undefined,
    first: '{"newCheckout":false}',
    second: '{"newCheckout":true}',
    limit: 400 * 1024 - 1024,
    oversized: () => JSON.stringify({ blob: 'x'.repeat(400 * 1024) }),
  },
  {
    name: 'Parameter Store (moto)',
    key: 'param_config_apiEndpoint',
    service: 'orders',
    first: 'https://v1.orders.internal',
    second: 'https://v2.orders.internal',
    limit: 4096,
    oversized: () => 'x'.repeat(4097),
  },
];

describe.each(backends)('$name strategy', (backend) => {
  let address: ConfigAddress;

  beforeEach(() => {
    address = { tenantId: uniqueTenant(), key: backend.key, service: backend.service };
  });

  test('a direct write is live at once and reads back with its version', async () => {
    const written = await store.put(address, backend.first, { expectedVersion: 0, makeLive: true });
    expect(written).toMatchObject({ key: backend.key, version: 1, value: backend.first });

    const live = await store.getLive(address);
    expect(live).toMatchObject({ version: 1, value: backend.first });
    expect(Date.parse(live.updatedAt)).not.toBeNaN();
  });

  test('a candidate version stays invisible to live reads until promoted', async () => {
    await store.put(address, backend.first, { expectedVersion: 0, makeLive: true });
    const candidate = await store.put(address, backend.second, { expectedVersion: 1, makeLive: false });
    expect(candidate.version).toBe(2);

    expect(await store.getLive(address)).toMatchObject({ version: 1, value: backend.first });
    expect(await store.getVersion(address, 2)).toMatchObject({ version: 2, value: backend.second });

    await store.promote(address, 2);
    expect(await store.getLive(address)).toMatchObject({ version: 2, value: backend.second });
  });

  test('a key whose only version is a candidate is not found by live reads or lists', async () => {
    await store.put(address, backend.first, { expectedVersion: 0, makeLive: false });
    await expect(store.getLive(address)).rejects.toBeInstanceOf(NotFoundError);
    expect(await store.list(address.tenantId)).toEqual([]);
  });

  test('a write against a stale expected version is a conflict that changes nothing', async () => {
    await store.put(address, backend.first, { expectedVersion: 0, makeLive: true });
    await store.put(address, backend.second, { expectedVersion: 1, makeLive: true });

    const stale = store.put(address, '{"lost":true}', { expectedVersion: 1, makeLive: true });
    await expect(stale).rejects.toBeInstanceOf(VersionConflictError);
    await expect(stale).rejects.toMatchObject({ expectedVersion: 1, actualVersion: 2 });
    expect(await store.getLive(address)).toMatchObject({ version: 2, value: backend.second });
  });

  test('creating a key that already exists is a conflict', async () => {
    await store.put(address, backend.first, { expectedVersion: 0, makeLive: true });
    await expect(
      store.put(address, backend.second, { expectedVersion: 0, makeLive: true }),
    ).rejects.toBeInstanceOf(VersionConflictError);
  });

  test('a retried write with the same write id returns the version it already made', async () => {
    const options = { expectedVersion: 0, makeLive: false, writeId: 'rollout-42' };
    const first = await store.put(address, backend.first, options);
    const retried = await store.put(address, backend.first, options);
    expect(retried.version).toBe(first.version);
    expect((await store.history(address)).map((h) => h.version)).toEqual([1]);
  });

  test('history lists every version newest first and marks the live one', async () => {
    await store.put(address, backend.first, { expectedVersion: 0, makeLive: true });
    await store.put(address, backend.second, { expectedVersion: 1, makeLive: false, writeId: 'rollout-7' });

    const history = await store.history(address);
    expect(history.map(({ version, live, value }) => ({ version, live, value }))).toEqual([
      { version: 2, live: false, value: backend.second },
      { version: 1, live: true, value: backend.first },
    ]);
    expect(history[0]?.writeId).toBe('rollout-7');
  });

  test('latest is the newest version, live or not, with its write id; undefined for a new key', async () => {
    expect(await store.latest(address)).toBeUndefined();
    await store.put(address, backend.first, { expectedVersion: 0, makeLive: true });
    await store.put(address, backend.second, { expectedVersion: 1, makeLive: false, writeId: 'rollout-9' });
    expect(await store.latest(address)).toMatchObject({
      version: 2,
      value: backend.second,
      live: false,
      writeId: 'rollout-9',
    });
  });

  test('list returns the tenant’s live entries and nothing of another tenant', async () => {
    const other = { ...address, tenantId: uniqueTenant('other') };
    await store.put(address, backend.first, { expectedVersion: 0, makeLive: true });
    await store.put(other, backend.second, { expectedVersion: 0, makeLive: true });

    const listed = await store.list(address.tenantId);
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ key: backend.key, version: 1, value: backend.first });
  });

  test('delete removes the key and all its versions', async () => {
    await store.put(address, backend.first, { expectedVersion: 0, makeLive: true });
    await store.put(address, backend.second, { expectedVersion: 1, makeLive: true });
    await store.delete(address);

    await expect(store.getLive(address)).rejects.toBeInstanceOf(NotFoundError);
    await expect(store.getVersion(address, 1)).rejects.toBeInstanceOf(NotFoundError);
    await expect(store.history(address)).rejects.toBeInstanceOf(NotFoundError);
    await expect(store.delete(address)).rejects.toBeInstanceOf(NotFoundError);
  });

  test('a value over the backend limit is refused before anything is written', async () => {
    const error = await store
      .put(address, backend.oversized(), { expectedVersion: 0, makeLive: true })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValueTooLargeError);
    expect((error as Error).message).toContain(String(backend.limit));
    await expect(store.getLive(address)).rejects.toBeInstanceOf(NotFoundError);
  });

  test('reading a version that was never written is not found', async () => {
    await store.put(address, backend.first, { expectedVersion: 0, makeLive: true });
    await expect(store.getVersion(address, 9)).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe('validation shared by every backend', () => {
  const tenantId = 'validation-tenant';

  test('a tenant_config_ value that is not JSON is refused, naming the key', async () => {
    const put = store.put({ tenantId, key: 'tenant_config_flags' }, '{not json', {
      expectedVersion: 0,
      makeLive: true,
    });
    await expect(put).rejects.toBeInstanceOf(InvalidJsonError);
    await expect(put).rejects.toThrow(/tenant_config_flags/);
  });

  test('an unknown prefix is an error, never a default backend', async () => {
    await expect(store.getLive({ tenantId, key: 'secret_config_x' })).rejects.toBeInstanceOf(
      UnknownPrefixError,
    );
  });

  test.each([
    'tenant_config_a/b',
    'tenant_config_..',
    'tenant_config_a b',
    'tenant_config_\u0007',
    '',
    'x'.repeat(129),
  ])('the unsafe key %j is refused', async (key) => {
    await expect(store.getLive({ tenantId, key })).rejects.toMatchObject({
      code: 'InvalidKey',
      field: 'key',
    });
  });

  test('a param_config_ key without a service is refused, naming the field', async () => {
    await expect(store.getLive({ tenantId, key: 'param_config_url' })).rejects.toMatchObject({
      code: 'InvalidArgument',
      field: 'service',
    });
  });

  test('a service name that would change the parameter path is refused', async () => {
    await expect(
      store.getLive({ tenantId, key: 'param_config_url', service: '../other' }),
    ).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  test('an empty value is refused', async () => {
    await expect(
      store.put({ tenantId, key: 'param_config_url', service: 'orders' }, '', {
        expectedVersion: 0,
        makeLive: true,
      }),
    ).rejects.toMatchObject({ field: 'value' });
  });
});

describe('Parameter Store tree', () => {
  test('parameters written by hand outside the key space are not listed', async () => {
    const tenantId = uniqueTenant();
    await clients.ssm.send(
      new PutParameterCommand({
        Name: `/config-service/${tenantId}/orders/not_a_config_key`,
        Value: 'x',
        Type: 'String',
      }),
    );
    await store.put({ tenantId, key: 'param_config_url', service: 'orders' }, 'https://a', {
      expectedVersion: 0,
      makeLive: true,
    });
    expect((await store.list(tenantId)).map((e) => e.key)).toEqual(['param_config_url']);
  });

  test('with 100 versions kept and the live one the oldest, a write is refused until a newer one is live', async () => {
    const tenantId = uniqueTenant();
    const address = { tenantId, key: 'param_config_url', service: 'orders' };
    await store.put(address, 'https://v1', { expectedVersion: 0, makeLive: true });
    // 99 candidates that never went live (rolled back, say), written straight to Parameter Store for speed.
    for (let version = 2; version <= 100; version += 1) {
      await clients.ssm.send(
        new PutParameterCommand({
          Name: `/config-service/${tenantId}/orders/param_config_url`,
          Value: `https://v${version}`,
          Type: 'String',
          Overwrite: true,
        }),
      );
    }

    const refused = await store
      .put(address, 'https://v101', { expectedVersion: 100, makeLive: false })
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(VersionLimitError);
    expect(refused).toMatchObject({
      code: 'VersionLimitReached',
      field: 'key',
      message:
        'Parameter Store keeps 100 versions of "param_config_url" and its oldest is the live one: ' +
        'make a newer version live (roll out an existing version) before writing another',
    });
    expect(await store.getLive(address)).toMatchObject({ version: 1 });

    await store.promote(address, 100);
    expect(await store.put(address, 'https://v101', { expectedVersion: 100, makeLive: false })).toMatchObject(
      {
        version: 101,
      },
    );
    const history = await store.history(address);
    expect(history).toHaveLength(100);
    expect(history.at(-1)).toMatchObject({ version: 2 });
    expect(history.find((entry) => entry.live)).toMatchObject({ version: 100 });
  });

  test('list narrows per-service keys to one service but keeps tenant-wide keys', async () => {
    const tenantId = uniqueTenant();
    await store.put({ tenantId, key: 'param_config_url', service: 'orders' }, 'https://o', {
      expectedVersion: 0,
      makeLive: true,
    });
    await store.put({ tenantId, key: 'param_config_url', service: 'billing' }, 'https://b', {
      expectedVersion: 0,
      makeLive: true,
    });
    await store.put({ tenantId, key: 'tenant_config_flags' }, '{}', { expectedVersion: 0, makeLive: true });

    const listed = await store.list(tenantId, 'billing');
    expect(listed.map((e) => [e.key, e.service ?? null, e.value])).toEqual(
      expect.arrayContaining([
        ['tenant_config_flags', null, '{}'],
        ['param_config_url', 'billing', 'https://b'],
      ]),
    );
    expect(listed).toHaveLength(2);
  });
});
