import { setTimeout as sleep } from 'node:timers/promises';
import type { ConfigStore } from '../../activities/storage/configStore';
import type { ConfigAddress } from '../../common/configAddress';
import type { ConfigVersion } from '../../activities/storage/types';
import { NotFoundError } from '../../common/errors';
import { CachedConfigReader, type ConfigCacheOptions } from '../../server/configReader';
import { stackClients, stackStore, uniqueTenant } from '../support/env';

const options: ConfigCacheOptions = {
  ttlMs: 60_000,
  maxEntries: 100,
  maxBytes: 1024 * 1024,
  negativeTtlMs: 60_000,
};

const entry = (version: number): ConfigVersion => ({
  key: 'tenant_config_flags',
  version,
  value: `{"v":${version}}`,
  format: 'json',
  updatedAt: '2026-01-01T00:00:00.000Z',
});

/**
 * A store whose reads answer only when the test says so, with what the store held when the read began:
 * the race a promotion's notice must win (a read under way across the promotion).
 */
function controllableStore() {
  const live = new Map<string, ConfigVersion>();
  const held: (() => void)[] = [];
  let reads = 0;
  const store = {
    address: (tenantId: string, key: string, service?: string) => ({
      tenantId,
      key,
      ...(service ? { service } : {}),
    }),
    getLive(address: ConfigAddress) {
      reads += 1;
      const answer = live.get(`${address.tenantId}/${address.key}`);
      return new Promise<ConfigVersion>((resolve, reject) =>
        held.push(() =>
          answer ? resolve(answer) : reject(new NotFoundError(`${address.key} not found`, 'key')),
        ),
      );
    },
  } as unknown as ConfigStore;
  return {
    store,
    live,
    reads: () => reads,
    /** Lets every read under way answer (the newest first, if asked), and waits until they are handled. */
    async release(order: 'oldest-first' | 'newest-first' = 'oldest-first') {
      const answers = held.splice(0);
      for (const answer of order === 'oldest-first' ? answers : answers.reverse()) answer();
      await new Promise((resolve) => setImmediate(resolve));
    },
  };
}

const address = { tenantId: 'a', key: 'tenant_config_flags' };

describe('a promotion notice on the read cache', () => {
  test('drops the cached answer at once: the next read gets the new live version, not the TTL-old one', async () => {
    const fake = controllableStore();
    const reader = new CachedConfigReader(fake.store, options);
    fake.live.set('a/tenant_config_flags', entry(1));
    const first = reader.getLive(address);
    await fake.release();
    expect((await first).version).toBe(1);

    fake.live.set('a/tenant_config_flags', entry(2));
    expect(reader.invalidate(address)).toBe(true);
    const next = reader.getLive(address);
    await fake.release();
    expect((await next).version).toBe(2);
    expect(fake.reads()).toBe(2);
  });

  test('a read under way before the notice answers its caller but cannot store the old value again', async () => {
    const fake = controllableStore();
    const reader = new CachedConfigReader(fake.store, options);
    fake.live.set('a/tenant_config_flags', entry(1));
    // Read, promotion, notice, then the read's answer (the old state) arrives.
    const before = reader.getLive(address);
    fake.live.set('a/tenant_config_flags', entry(2));
    expect(reader.invalidate(address)).toBe(false);
    // A read that starts after the notice must not share the read under way.
    const after = reader.getLive(address);
    // The old answer arrives last: it must not be what the cache keeps.
    await fake.release('newest-first');
    expect((await before).version).toBe(1);
    expect((await after).version).toBe(2);
    // What the cache serves from now on is the new state, whichever answer came in last.
    expect((await reader.getLive(address)).version).toBe(2);
    expect(fake.reads()).toBe(2);
  });

  test('the same holds for a removal: an old answer read before it is not remembered over the absence', async () => {
    const fake = controllableStore();
    const reader = new CachedConfigReader(fake.store, options);
    fake.live.set('a/tenant_config_flags', entry(1));
    const before = reader.getLive(address);
    fake.live.delete('a/tenant_config_flags');
    reader.invalidate(address);
    await fake.release();
    expect((await before).version).toBe(1);
    const after = expect(reader.getLive(address)).rejects.toBeInstanceOf(NotFoundError);
    await fake.release();
    await after;
  });

  test('touches only that tenant’s key: another tenant’s entry, and another key, stay cached', async () => {
    const fake = controllableStore();
    const reader = new CachedConfigReader(fake.store, options);
    fake.live.set('a/tenant_config_flags', entry(1));
    fake.live.set('b/tenant_config_flags', entry(1));
    fake.live.set('a/tenant_config_other', { ...entry(1), key: 'tenant_config_other' });
    const reads = [
      reader.getLive(address),
      reader.getLive({ tenantId: 'b', key: 'tenant_config_flags' }),
      reader.getLive({ tenantId: 'a', key: 'tenant_config_other' }),
    ];
    await fake.release();
    await Promise.all(reads);
    reader.invalidate(address);
    expect(reader.size).toBe(2);
  });

  test('generations are kept only while reads are under way: notices at rest hold no memory', async () => {
    const fake = controllableStore();
    const reader = new CachedConfigReader(fake.store, options);
    for (let i = 0; i < 1000; i += 1) reader.invalidate({ tenantId: `t${i}`, key: 'tenant_config_flags' });
    expect(reader.size).toBe(0);
    expect(reader.bytes).toBe(0);
    // Nothing left to grow: a read afterwards starts, and ends, its key's generation from scratch.
    fake.live.set('a/tenant_config_flags', entry(1));
    const read = reader.getLive(address);
    await fake.release();
    expect((await read).version).toBe(1);
    expect(reader.size).toBe(1);
  });

  test('with caching switched off, a read that began before the switch back on is not kept', async () => {
    const fake = controllableStore();
    const reader = new CachedConfigReader(fake.store, options);
    reader.setCaching(false);
    fake.live.set('a/tenant_config_flags', entry(1));
    const before = reader.getLive(address);
    reader.setCaching(true);
    await fake.release();
    await before;
    expect(reader.size).toBe(0);
  });
});

describe('a promotion notice on the read cache, over the real store', () => {
  const clients = stackClients();
  const store = stackStore(clients);
  afterAll(async () => {
    await store.close();
    clients.dynamodb.destroy();
    clients.ssm.destroy();
    clients.serviceDiscovery.destroy();
  });

  test('a real read that answered version 1 before a real promotion cannot put version 1 back after the notice', async () => {
    const key = { tenantId: uniqueTenant('notice'), key: 'tenant_config_flags' };
    await store.put(key, '{"v":1}', { expectedVersion: 0, makeLive: true });
    // The real store answers at once; its answer is held back until the promotion and the notice passed.
    let releaseAnswer: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (releaseAnswer = resolve));
    const delayed = Object.create(store) as ConfigStore;
    let readsDelayed = 1;
    delayed.getLive = async (address) => {
      const answer = await store.getLive(address);
      if (readsDelayed-- > 0) await gate;
      return answer;
    };
    const reader = new CachedConfigReader(delayed, options);

    const before = reader.getLive(key);
    await sleep(200);
    const candidate = await store.put(key, '{"v":2}', { expectedVersion: 1, makeLive: false });
    await store.promote(key, candidate.version);
    reader.invalidate(key);
    releaseAnswer();
    expect((await before).version).toBe(1);
    expect((await reader.getLive(key)).version).toBe(2);
    expect((await reader.getLive(key)).version).toBe(2);
  });
});
