import type { ConfigStore } from '../../activities/storage/configStore';
import type { ConfigAddress, ConfigVersion } from '../../activities/storage/types';
import { CachedConfigReader } from '../../server/configReader';

/** The address check is the store's own; the fakes pass addresses through as given. */
const passThrough = (tenantId: string, key: string) => ({ tenantId, key });

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
      if (!value) throw new Error('not found');
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
    const reader = new CachedConfigReader(store, { ttlMs: 60_000, maxEntries: 10 });
    expect((await reader.getLive({ tenantId: 'a', key: 'tenant_config_flags' })).value).toBe('"A"');
    expect((await reader.getLive({ tenantId: 'b', key: 'tenant_config_flags' })).value).toBe('"B"');
  });

  test('serves repeated reads from memory and shares one backend read between concurrent misses', async () => {
    const { store, reads } = fakeStore({ 'a/tenant_config_flags': entry('1', 1) });
    const reader = new CachedConfigReader(store, { ttlMs: 60_000, maxEntries: 10 });
    const address = { tenantId: 'a', key: 'tenant_config_flags' };
    await Promise.all([reader.getLive(address), reader.getLive(address), reader.getLive(address)]);
    await reader.getLive(address);
    expect(reads).toHaveLength(1);
  });

  test('entries expire after the TTL', async () => {
    let now = 0;
    const { store, reads } = fakeStore({ 'a/tenant_config_flags': entry('1', 1) });
    const reader = new CachedConfigReader(store, { ttlMs: 1000, maxEntries: 10 }, () => now);
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
    const reader = new CachedConfigReader(slowStore, { ttlMs: 1000, maxEntries: 10 }, () => now);
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
    const reader = new CachedConfigReader(gatedStore, { ttlMs: 1000, maxEntries: 10 }, () => now);
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
    const reader = new CachedConfigReader(store, { ttlMs: 60_000, maxEntries: 2 });
    for (const key of ['tenant_config_x', 'tenant_config_y', 'tenant_config_z'])
      await reader.getLive({ tenantId: 'a', key });
    expect(reader.size).toBe(2);
  });

  test('a failed read is not cached', async () => {
    const { store, reads } = fakeStore({});
    const reader = new CachedConfigReader(store, { ttlMs: 60_000, maxEntries: 10 });
    const address = { tenantId: 'a', key: 'tenant_config_missing' };
    await expect(reader.getLive(address)).rejects.toThrow();
    await expect(reader.getLive(address)).rejects.toThrow();
    expect(reads).toHaveLength(2);
  });
});
