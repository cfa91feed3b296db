import type { ConfigStore } from '../../activities/storage/configStore';
import type { ConfigAddress } from '../../common/configAddress';
import type { ConfigVersion } from '../../activities/storage/types';
import { NotFoundError } from '../../common/errors';
import { CachedConfigReader, type ConfigCacheOptions } from '../../server/configReader';

/** The address check is the store's own; the fakes pass addresses through as given. */
const passThrough = (tenantId: string, key: string, service?: unknown) => ({
  tenantId,
  key,
  ...(service ? { service: service as string } : {}),
});

const options = (overrides: Partial<ConfigCacheOptions>): ConfigCacheOptions => ({
  ttlMs: 60_000,
  maxEntries: 10,
  maxBytes: 1024 * 1024,
  negativeTtlMs: 0,
  ...overrides,
});

/** A counting in-memory store: the real one is exercised against the local stack elsewhere. */
function fakeStore(initial: Record<string, ConfigVersion>) {
  const values = { ...initial };
  const reads: string[] = [];
  const store = {
    address: passThrough,
    async getLive(address: ConfigAddress) {
      reads.push(`${address.tenantId}/${address.key}`);
      await new Promise((resolve) => setImmediate(resolve));
      const value = values[`${address.tenantId}/${address.key}`];
      if (!value) throw new NotFoundError(`${address.key} not found`, 'key');
      return value;
    },
  } as unknown as ConfigStore;
  return { store, reads, values };
}

const entry = (value: string, version: number): ConfigVersion => ({
  key: 'tenant_config_flags',
  version,
  value,
  format: 'json',
  updatedAt: '2026-01-01T00:00:00.000Z',
});

describe('the config cache', () => {
  test('keys entries by tenant: tenant B never gets tenant A’s cached value', async () => {
    const { store } = fakeStore({
      'a/tenant_config_flags': entry('"A"', 1),
      'b/tenant_config_flags': entry('"B"', 1),
    });
    const reader = new CachedConfigReader(store, options({ ttlMs: 60_000, maxEntries: 10 }));
    expect((await reader.getLive({ tenantId: 'a', key: 'tenant_config_flags' })).value).toBe('"A"');
    expect((await reader.getLive({ tenantId: 'b', key: 'tenant_config_flags' })).value).toBe('"B"');
  });

  test('serves repeated reads from memory and shares one backend read between concurrent misses', async () => {
    const { store, reads } = fakeStore({ 'a/tenant_config_flags': entry('1', 1) });
    const reader = new CachedConfigReader(store, options({ ttlMs: 60_000, maxEntries: 10 }));
    const address = { tenantId: 'a', key: 'tenant_config_flags' };
    await Promise.all([reader.getLive(address), reader.getLive(address), reader.getLive(address)]);
    await reader.getLive(address);
    expect(reads).toHaveLength(1);
  });

  test('entries expire after the TTL', async () => {
    let now = 0;
    const { store, reads } = fakeStore({ 'a/tenant_config_flags': entry('1', 1) });
    const reader = new CachedConfigReader(store, options({ ttlMs: 1000, maxEntries: 10 }), () => now);
    const address = { tenantId: 'a', key: 'tenant_config_flags' };
    await reader.getLive(address);
    now = 1001;
    await reader.getLive(address);
    expect(reads).toHaveLength(2);
  });

  test('an entry expires TTL after its read began, so a value read across a promotion goes with the rest', async () => {
    let now = 0;
    const { store, reads } = fakeStore({ 'a/tenant_config_flags': entry('1', 1) });
    const slowStore = {
      address: passThrough,
      async getLive(address: ConfigAddress) {
        const value = await store.getLive(address);
        now = 700; // the read took 700 ms; the worker promoted meanwhile
        return value;
      },
    } as unknown as ConfigStore;
    const reader = new CachedConfigReader(slowStore, options({ ttlMs: 1000, maxEntries: 10 }), () => now);
    const address = { tenantId: 'a', key: 'tenant_config_flags' };
    await reader.getLive(address);
    now = 999;
    await reader.getLive(address);
    expect(reads).toHaveLength(1);
    now = 1000;
    await reader.getLive(address);
    expect(reads).toHaveLength(2);
  });

  test('a read in flight for longer than the TTL is not shared, nor is its late answer kept', async () => {
    let now = 0;
    let release: (() => void) | undefined;
    const reads: number[] = [];
    const gatedStore = {
      address: passThrough,
      async getLive() {
        const version = reads.push(now);
        if (version === 1) await new Promise<void>((resolve) => (release = resolve));
        return entry(String(version), version);
      },
    } as unknown as ConfigStore;
    const reader = new CachedConfigReader(gatedStore, options({ ttlMs: 1000, maxEntries: 10 }), () => now);
    const address = { tenantId: 'a', key: 'tenant_config_flags' };
    const slow = reader.getLive(address);
    now = 1000;
    expect((await reader.getLive(address)).version).toBe(2); // its own read, not the stale one's
    release!();
    expect((await slow).version).toBe(1);
    expect((await reader.getLive(address)).version).toBe(2); // the late answer did not replace it
    expect(reads).toEqual([0, 1000]);
  });

  test('holds at most maxEntries, evicting the oldest', async () => {
    const { store } = fakeStore({
      'a/tenant_config_x': entry('1', 1),
      'a/tenant_config_y': entry('1', 1),
      'a/tenant_config_z': entry('1', 1),
    });
    const reader = new CachedConfigReader(store, options({ ttlMs: 60_000, maxEntries: 2 }));
    for (const key of ['tenant_config_x', 'tenant_config_y', 'tenant_config_z'])
      await reader.getLive({ tenantId: 'a', key });
    expect(reader.size).toBe(2);
  });

  test('a failed read is not cached', async () => {
    const { store, reads } = fakeStore({});
    // Negative caching off: this is about failures in general.
    const reader = new CachedConfigReader(store, options({ ttlMs: 60_000, maxEntries: 10 }));
    const address = { tenantId: 'a', key: 'tenant_config_missing' };
    await expect(reader.getLive(address)).rejects.toThrow();
    await expect(reader.getLive(address)).rejects.toThrow();
    expect(reads).toHaveLength(2);
  });

  test('holds at most maxBytes, counting keys and values, evicting the oldest', async () => {
    const big = (n: number) => entry(`"${'x'.repeat(10_000)}${n}"`, 1);
    const values = Object.fromEntries(
      Array.from({ length: 50 }, (_, n) => [`a/tenant_config_k${n}`, big(n)]),
    );
    const { store } = fakeStore(values);
    const reader = new CachedConfigReader(store, options({ maxEntries: 1000, maxBytes: 100_000 }));
    for (let n = 0; n < 50; n += 1) await reader.getLive({ tenantId: 'a', key: `tenant_config_k${n}` });
    expect(reader.bytes).toBeLessThanOrEqual(100_000);
    expect(reader.bytes).toBeGreaterThan(80_000);
    expect(reader.size).toBe(4); // each entry ~20 KB: the value at two bytes a character
  });

  test('a value larger than the whole byte bound is served but not kept', async () => {
    const { store, reads } = fakeStore({ 'a/tenant_config_big': entry('"'.padEnd(60_000, 'y'), 1) });
    const reader = new CachedConfigReader(store, options({ maxBytes: 100_000 }));
    await reader.getLive({ tenantId: 'a', key: 'tenant_config_big' });
    await reader.getLive({ tenantId: 'a', key: 'tenant_config_big' });
    expect(reads).toHaveLength(2);
    expect(reader.bytes).toBe(0);
  });

  test('a missing key is remembered for negativeTtlMs, then read again, and its NotFound repeated', async () => {
    let now = 0;
    const { store, reads, values } = fakeStore({});
    const reader = new CachedConfigReader(store, options({ ttlMs: 5000, negativeTtlMs: 1000 }), () => now);
    const missing = { tenantId: 'a', key: 'tenant_config_flags' };
    for (let i = 0; i < 3; i += 1) {
      await expect(reader.getLive(missing)).rejects.toMatchObject({ code: 'NotFound', field: 'key' });
    }
    expect(reads).toHaveLength(1);
    values['a/tenant_config_flags'] = entry('1', 1);
    now = 999;
    await expect(reader.getLive(missing)).rejects.toBeInstanceOf(NotFoundError);
    now = 1000; // the key became live: served once the negative entry expires, well within the TTL
    expect((await reader.getLive(missing)).version).toBe(1);
    expect(reads).toHaveLength(2);
  });

  test('other failures are never remembered as missing', async () => {
    let calls = 0;
    const failing = {
      address: passThrough,
      getLive() {
        calls += 1;
        return Promise.reject(new Error('store down'));
      },
    } as unknown as ConfigStore;
    const reader = new CachedConfigReader(failing, options({ negativeTtlMs: 1000 }));
    const key = { tenantId: 'a', key: 'tenant_config_flags' };
    await expect(reader.getLive(key)).rejects.toThrow('store down');
    await expect(reader.getLive(key)).rejects.toThrow('store down');
    expect(calls).toBe(2);
  });

  test('keys the cache on the address the store normalized, never on the raw input', async () => {
    const seen: unknown[] = [];
    const { store } = fakeStore({ 'a/tenant_config_flags': entry('1', 1) });
    const normalizing = Object.assign(Object.create(store) as ConfigStore, {
      address: (tenantId: string, key: string, service: unknown) => {
        seen.push(service);
        if (service) throw new Error('refused');
        return passThrough(tenantId, key);
      },
    });
    const reader = new CachedConfigReader(normalizing, options({}));
    await expect(
      reader.getLive({ tenantId: 'a', key: 'tenant_config_flags', service: 'x'.repeat(1000) }),
    ).rejects.toThrow('refused');
    expect(reader.size).toBe(0);
    expect(seen).toHaveLength(1);
  });
});
