import { setTimeout as sleep } from 'node:timers/promises';
import type { ConfigAddress } from '../../../common/configAddress';
import { createLogger } from '../../../common/logger';
import { type ConfigChange, HeldConfig, type HeldValue, REMOVAL_SETTLE_MS } from '../../../sdk/heldConfig';
import { type LiveReader, PENDING, VersionCheck } from '../../../sdk/versionCheck';

/** A ConfigService stand-in holding live versions by key: the real one is used in test/integration/sdk.test.ts. */
function fakeLive(initial: Record<string, number>) {
  const live = new Map(Object.entries(initial));
  const reads: string[] = [];
  const failing = new Set<string>();
  const reader: LiveReader = {
    getLive(address: ConfigAddress): Promise<HeldValue | undefined> {
      reads.push(address.key);
      if (failing.has(address.key)) return Promise.reject(new Error('ConfigService is down'));
      const version = live.get(address.key);
      return Promise.resolve(version ? { version, value: `"v${version}"`, format: 'json' } : undefined);
    },
  };
  return { reader, live, reads, failing };
}

const address = (key: string) => ({ tenantId: 'acme', key });
const quiet = createLogger({}, 'error');

function heldWith(versions: Record<string, number>) {
  const held = new HeldConfig(() => undefined);
  for (const [key, version] of Object.entries(versions)) {
    held.applyPush(address(key), {
      version,
      value: { value: `"v${version}"`, format: 'json' },
      revertFrom: 0,
    });
  }
  return held;
}

describe('the version check', () => {
  test('takes a live version newer than the held one, as a version-check change', async () => {
    const held = heldWith({ tenant_config_a: 1 });
    const changes: ConfigChange[] = [];
    held.onChange('tenant_config_a', (change) => {
      changes.push(change);
    });
    const { reader } = fakeLive({ tenant_config_a: 2 });
    const check = new VersionCheck({ held, reader, intervalMs: 0, logger: quiet });
    expect(await check.checkNow()).toBe(1);
    expect(held.heldVersion(address('tenant_config_a'))).toBe(2);
    expect(changes).toEqual([expect.objectContaining({ cause: 'version-check', heldVersion: 2 })]);
  });

  test('never reverts a candidate a rollout pushed, which is newer than live', async () => {
    const held = heldWith({ tenant_config_a: 5 });
    const check = new VersionCheck({
      held,
      reader: fakeLive({ tenant_config_a: 4 }).reader,
      intervalMs: 0,
      logger: quiet,
    });
    expect(await check.checkNow()).toBe(0);
    expect(held.heldVersion(address('tenant_config_a'))).toBe(5);
  });

  test('a key it cannot read is skipped; the others are still checked', async () => {
    const held = heldWith({ tenant_config_a: 1, tenant_config_b: 1 });
    const { reader, failing } = fakeLive({ tenant_config_a: 2, tenant_config_b: 2 });
    failing.add('tenant_config_a');
    const check = new VersionCheck({ held, reader, intervalMs: 0, logger: quiet });
    expect(await check.checkNow()).toBe(1);
    expect(held.heldVersion(address('tenant_config_a'))).toBe(1);
    expect(held.heldVersion(address('tenant_config_b'))).toBe(2);
  });

  test('a removed key comes back only after checks have found it gone for REMOVAL_SETTLE_MS', async () => {
    let now = 0;
    const held = new HeldConfig(
      () => undefined,
      () => now,
    );
    held.applyPush(address('tenant_config_a'), {
      version: 4,
      value: { value: '"v4"', format: 'json' },
      revertFrom: 0,
    });
    held.applyPush(address('tenant_config_a'), { version: 0, value: undefined, revertFrom: 0 });
    const { reader, live } = fakeLive({});
    const check = new VersionCheck({ held, reader, intervalMs: 0, logger: quiet });
    expect(await check.checkNow()).toBe(0); // the store has let the key go: noted
    now += REMOVAL_SETTLE_MS;
    live.set('tenant_config_a', 1); // created anew; its push never arrived
    expect(await check.checkNow()).toBe(1);
    expect(held.heldVersion(address('tenant_config_a'))).toBe(1);
  });

  test('runs every interval once started, and reads nothing after stop()', async () => {
    const held = heldWith({ tenant_config_a: 1 });
    const { reader, reads } = fakeLive({ tenant_config_a: 1 });
    const check = new VersionCheck({ held, reader, intervalMs: 10, logger: quiet });
    check.start();
    for (let waited = 0; reads.length < 2 && waited < 5_000; waited += 10) {
      await sleep(10);
    }
    await check.stop();
    const readsAtStop = reads.length;
    expect(readsAtStop).toBeGreaterThanOrEqual(2);
    await sleep(50);
    expect(reads).toHaveLength(readsAtStop);
  });

  test('an interval of 0 turns it off', async () => {
    const held = heldWith({ tenant_config_a: 1 });
    const { reader, reads } = fakeLive({ tenant_config_a: 2 });
    const check = new VersionCheck({ held, reader, intervalMs: 0, logger: quiet });
    check.start();
    await sleep(50);
    await check.stop();
    expect(reads).toHaveLength(0);
  });
});

describe('the version check and keys that are not live', () => {
  test('a key that exists with nothing live yet (its first rollout runs) keeps the pushed candidate', async () => {
    const held = heldWith({ tenant_config_new: 1 });
    const reader: LiveReader = { getLive: () => Promise.resolve(PENDING) };
    const check = new VersionCheck({ held, reader, intervalMs: 0, logger: quiet });
    expect(await check.checkNow()).toBe(0);
    expect(held.heldVersion(address('tenant_config_new'))).toBe(1);
  });

  test('a key that no longer exists is dropped: its removal was missed', async () => {
    const held = heldWith({ tenant_config_gone: 3 });
    const check = new VersionCheck({ held, reader: fakeLive({}).reader, intervalMs: 0, logger: quiet });
    expect(await check.checkNow()).toBe(1);
    expect(held.value(address('tenant_config_gone'))).toBeUndefined();
  });
});
