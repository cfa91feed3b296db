import { type ConfigChange, type Delivery, HeldConfig, REMOVAL_SETTLE_MS } from '../../../sdk/heldConfig';

const flags = { tenantId: 'acme', key: 'tenant_config_featureFlags' };

const value = (version: number, extra: Partial<Delivery> = {}): Delivery => ({
  version,
  value: { value: `{"v":${version}}`, format: 'json' },
  revertFrom: 0,
  rolloutId: `rollout-${version}`,
  ...extra,
});
const removal = (version: number, extra: Partial<Delivery> = {}): Delivery => ({
  version,
  value: undefined,
  revertFrom: 0,
  ...extra,
});

function heldWithErrors() {
  const listenerErrors: unknown[] = [];
  const held = new HeldConfig((error) => listenerErrors.push(error));
  const changes: ConfigChange[] = [];
  held.onChange(flags.key, (change) => {
    changes.push(change);
  });
  return { held, changes, listenerErrors };
}

describe('pushes', () => {
  test('a push newer than anything held applies and reports the held version', () => {
    const { held } = heldWithErrors();
    expect(held.applyPush(flags, value(1))).toEqual({ heldVersion: 1, applied: true });
    expect(held.applyPush(flags, value(3))).toEqual({ heldVersion: 3, applied: true });
    expect(held.value(flags)).toEqual({ version: 3, value: '{"v":3}', format: 'json' });
  });

  test('a repeated push changes nothing and answers the held version with applied=false', () => {
    const { held, changes } = heldWithErrors();
    held.applyPush(flags, value(2));
    expect(held.applyPush(flags, value(2))).toEqual({ heldVersion: 2, applied: false });
    expect(changes).toHaveLength(1);
  });

  test('an older push never replaces a newer version', () => {
    const { held } = heldWithErrors();
    held.applyPush(flags, value(5));
    expect(held.applyPush(flags, value(4))).toEqual({ heldVersion: 5, applied: false });
    expect(held.value(flags)?.version).toBe(5);
  });

  test('a removal drops the value but reports the removal’s version, and older pushes stay refused', () => {
    const { held, changes } = heldWithErrors();
    held.applyPush(flags, value(2));
    expect(held.applyPush(flags, removal(3))).toEqual({ heldVersion: 3, applied: true });
    expect(held.value(flags)).toBeUndefined();
    expect(held.heldVersion(flags)).toBe(3);
    expect(held.applyPush(flags, value(2))).toEqual({ heldVersion: 3, applied: false });
    expect(changes.at(-1)).toMatchObject({ previous: { version: 2 }, current: undefined, heldVersion: 3 });
  });

  test('a removal at version 0 forgets the key, high-water mark included, so a re-created version 1 applies', () => {
    const { held, changes } = heldWithErrors();
    held.applyPush(flags, value(7));
    expect(held.applyPush(flags, removal(0))).toEqual({ heldVersion: 0, applied: true });
    expect(held.value(flags)).toBeUndefined();
    expect(changes.at(-1)).toMatchObject({ previous: { version: 7 }, current: undefined, heldVersion: 0 });
    expect(held.applyPush(flags, removal(0))).toEqual({ heldVersion: 0, applied: false });
    expect(held.applyPush(flags, value(1))).toEqual({ heldVersion: 1, applied: true });
  });

  test('forgetting a key the instance never held tells no listener, yet no read brings the key back', () => {
    const { held, changes } = heldWithErrors();
    expect(held.applyPush(flags, removal(0))).toEqual({ heldVersion: 0, applied: false });
    expect(changes).toEqual([]);
    expect(held.has(flags)).toBe(true);
    expect(held.applyRead(flags, { version: 3, value: '{"v":3}', format: 'json' }, 'load')).toBe(false);
    expect(held.value(flags)).toBeUndefined();
    expect(held.applyPush(flags, value(1))).toEqual({ heldVersion: 1, applied: true });
  });

  test('entries are kept per tenant and service: a push for one never touches another', () => {
    const { held } = heldWithErrors();
    const otherTenant = { ...flags, tenantId: 'globex' };
    const endpoint = { tenantId: 'acme', key: 'param_config_apiEndpoint' };
    held.applyPush(flags, value(7));
    held.applyPush({ ...endpoint, service: 'orders' }, value(1));
    expect(held.heldVersion(otherTenant)).toBe(0);
    expect(held.has(otherTenant)).toBe(false);
    expect(held.heldVersion({ ...endpoint, service: 'billing' })).toBe(0);
    expect(held.heldVersion(endpoint)).toBe(0);
    expect(held.heldVersion({ ...flags, service: '' })).toBe(7);
  });
});

describe('rollbacks', () => {
  test('a rollback applies only while the instance holds exactly revert_from', () => {
    const { held } = heldWithErrors();
    held.applyPush(flags, value(1));
    held.applyPush(flags, value(2));
    expect(held.applyPush(flags, value(1, { revertFrom: 3 }))).toEqual({ heldVersion: 2, applied: false });
    expect(held.applyPush(flags, value(1, { revertFrom: 2 }))).toEqual({ heldVersion: 1, applied: true });
    expect(held.value(flags)?.value).toBe('{"v":1}');
  });

  test('after a rollback a late duplicate of the rolled-back version cannot bring it back', () => {
    const { held } = heldWithErrors();
    held.applyPush(flags, value(1));
    held.applyPush(flags, value(2));
    held.applyPush(flags, value(1, { revertFrom: 2 }));
    expect(held.applyPush(flags, value(2))).toEqual({ heldVersion: 1, applied: false });
    expect(held.applyPush(flags, value(3))).toEqual({ heldVersion: 3, applied: true });
  });

  test('a repeated rollback changes nothing', () => {
    const { held, changes } = heldWithErrors();
    held.applyPush(flags, value(1));
    held.applyPush(flags, value(2));
    held.applyPush(flags, value(1, { revertFrom: 2 }));
    expect(held.applyPush(flags, value(1, { revertFrom: 2 }))).toEqual({ heldVersion: 1, applied: false });
    expect(changes.map((c) => c.cause)).toEqual(['push', 'push', 'rollback']);
  });

  test('a rollback of a key’s creation (removed, version 0) drops the entry’s value and keeps it refused', () => {
    const { held } = heldWithErrors();
    held.applyPush(flags, value(1));
    expect(held.applyPush(flags, removal(0, { revertFrom: 1 }))).toEqual({ heldVersion: 0, applied: true });
    expect(held.value(flags)).toBeUndefined();
    expect(held.applyPush(flags, value(1))).toEqual({ heldVersion: 0, applied: false });
  });
});

describe('a rollback that arrives before the push it rolls back (a frozen instance)', () => {
  test('fences the rolled-back version off: its late push is refused, a newer one applies', () => {
    const { held, changes } = heldWithErrors();
    held.applyPush(flags, value(1));
    expect(held.applyPush(flags, value(1, { revertFrom: 2 }))).toEqual({ heldVersion: 1, applied: false });
    expect(held.applyPush(flags, value(2))).toEqual({ heldVersion: 1, applied: false });
    expect(held.value(flags)?.value).toBe('{"v":1}');
    expect(held.applyPush(flags, value(3))).toEqual({ heldVersion: 3, applied: true });
    expect(changes.map((c) => c.cause)).toEqual(['push', 'push']);
  });

  test('an instance on an older version takes the version rolled back to, which is live', () => {
    const { held, changes } = heldWithErrors();
    held.applyPush(flags, value(1));
    expect(held.applyPush(flags, value(2, { revertFrom: 3 }))).toEqual({ heldVersion: 2, applied: true });
    expect(held.applyPush(flags, value(3))).toEqual({ heldVersion: 2, applied: false });
    expect(changes.map((c) => c.cause)).toEqual(['push', 'rollback']);
  });

  test('the rollback of a new key’s creation refuses the creation’s late push, not the key created anew', () => {
    const { held } = heldWithErrors();
    expect(held.applyPush(flags, removal(0, { revertFrom: 1 }))).toEqual({ heldVersion: 0, applied: false });
    expect(held.applyPush(flags, value(1))).toEqual({ heldVersion: 0, applied: false });
    expect(held.value(flags)).toBeUndefined();
    expect(held.applyRead(flags, { version: 2, value: '{}', format: 'json' }, 'load')).toBe(true);
    expect(held.heldVersion(flags)).toBe(2);
  });
});

describe('reads from ConfigService', () => {
  test('the first read holds the live value without telling listeners', () => {
    const { held, changes } = heldWithErrors();
    held.applyRead(flags, { version: 4, value: '{}', format: 'json' }, 'load');
    expect(held.value(flags)?.version).toBe(4);
    expect(changes).toHaveLength(0);
  });

  test('a key that does not exist is held as absent (version 0), so it is not read again', () => {
    const { held } = heldWithErrors();
    held.applyRead(flags, undefined, 'load');
    expect(held.has(flags)).toBe(true);
    expect(held.value(flags)).toBeUndefined();
    expect(held.heldVersion(flags)).toBe(0);
  });

  test('a live version older than a pushed candidate does not replace it', () => {
    const { held } = heldWithErrors();
    held.applyPush(flags, value(2));
    expect(held.applyRead(flags, { version: 1, value: '{}', format: 'json' }, 'version-check')).toBe(false);
    expect(held.heldVersion(flags)).toBe(2);
  });

  test('a live version at or below the high-water mark does not undo a rollback', () => {
    const { held } = heldWithErrors();
    held.applyPush(flags, value(1));
    held.applyPush(flags, value(2));
    held.applyPush(flags, value(1, { revertFrom: 2 }));
    expect(held.applyRead(flags, { version: 2, value: '{}', format: 'json' }, 'version-check')).toBe(false);
    expect(held.heldVersion(flags)).toBe(1);
  });

  test('a live version newer than anything delivered applies and is reported with its cause', () => {
    const { held, changes } = heldWithErrors();
    held.applyPush(flags, value(1));
    expect(held.applyRead(flags, { version: 3, value: '{"v":3}', format: 'json' }, 'version-check')).toBe(
      true,
    );
    expect(changes.at(-1)).toEqual({
      tenantId: 'acme',
      key: flags.key,
      previous: { version: 1, value: '{"v":1}', format: 'json' },
      current: { version: 3, value: '{"v":3}', format: 'json' },
      heldVersion: 3,
      cause: 'version-check',
    });
  });

  test('a key a rollout removed is not brought back by a read, which may still see it; a push does', () => {
    const { held } = heldWithErrors();
    held.applyPush(flags, value(4));
    held.applyPush(flags, removal(0));
    // The store keeps the key until the removal's last wave, and the config service may cache it.
    expect(held.applyRead(flags, { version: 4, value: '{"v":4}', format: 'json' }, 'version-check')).toBe(
      false,
    );
    expect(held.applyRead(flags, { version: 5, value: '{"v":5}', format: 'json' }, 'version-check')).toBe(
      false,
    );
    expect(held.value(flags)).toBeUndefined();
    // Created again and rolled out: the push applies, and reads count again from then on.
    expect(held.applyPush(flags, value(1))).toEqual({ heldVersion: 1, applied: true });
    expect(held.applyRead(flags, { version: 2, value: '{"v":2}', format: 'json' }, 'version-check')).toBe(
      true,
    );
    expect(held.heldVersion(flags)).toBe(2);
  });

  test('once reads have found a removed key gone for REMOVAL_SETTLE_MS, a read brings a re-created key back', () => {
    let now = 1_000_000;
    const held = new HeldConfig(
      () => undefined,
      () => now,
    );
    held.applyPush(flags, value(4));
    held.applyPush(flags, removal(0));
    const recreated = { version: 1, value: '{"v":1}', format: 'json' as const };
    // The removal's last wave is not over: the store still has the key; no absence seen yet.
    now += REMOVAL_SETTLE_MS * 2;
    expect(held.applyRead(flags, recreated, 'version-check')).toBe(false);
    // The store has deleted it; a cache may still answer the old value for a while.
    expect(held.applyRead(flags, undefined, 'version-check')).toBe(false);
    now += REMOVAL_SETTLE_MS - 1;
    expect(held.applyRead(flags, { ...recreated, version: 4 }, 'version-check')).toBe(false);
    expect(held.applyRead(flags, undefined, 'version-check')).toBe(false);
    // Long past any cache: the key was created again and its push never arrived; the check catches it.
    now += 1;
    expect(held.applyRead(flags, recreated, 'version-check')).toBe(true);
    expect(held.heldVersion(flags)).toBe(1);
  });

  test('a removal that is rolled back restores the key, and reads count again', () => {
    const { held } = heldWithErrors();
    held.applyPush(flags, value(4));
    held.applyPush(flags, removal(0));
    expect(held.applyPush(flags, value(4, { revertFrom: 0 }))).toEqual({ heldVersion: 4, applied: true });
    expect(held.applyRead(flags, { version: 5, value: '{"v":5}', format: 'json' }, 'version-check')).toBe(
      true,
    );
  });

  test("a load's NOT_FOUND (which a key whose first rollout runs answers too) keeps a pushed candidate", () => {
    const { held } = heldWithErrors();
    held.applyPush(flags, value(1));
    expect(held.applyRead(flags, undefined, 'load')).toBe(false);
    expect(held.value(flags)?.version).toBe(1);
  });

  test('a key the version check finds gone (a lost removal) is dropped; the key created anew is taken', () => {
    const { held, changes } = heldWithErrors();
    held.applyRead(
      flags,
      { version: 4, value: '{"v":4}', format: 'json', createdAt: '2026-01-01T00:00:00.000Z' },
      'load',
    );
    expect(held.applyRead(flags, undefined, 'version-check')).toBe(true);
    expect(held.value(flags)).toBeUndefined();
    expect(changes).toEqual([
      expect.objectContaining({ cause: 'version-check', current: undefined, heldVersion: 0 }),
    ]);
    // A read cache answering the dropped versions a little longer does not bring them back.
    expect(
      held.applyRead(
        flags,
        { version: 4, value: '{"v":4}', format: 'json', createdAt: '2026-01-01T00:00:00.000Z' },
        'version-check',
      ),
    ).toBe(false);
    expect(held.value(flags)).toBeUndefined();
    // The key created anew, numbered from 1 again.
    const reborn = {
      version: 1,
      value: '{"reborn":1}',
      format: 'json' as const,
      createdAt: '2026-02-01T00:00:00.000Z',
    };
    expect(held.applyRead(flags, reborn, 'version-check')).toBe(true);
    expect(held.value(flags)).toEqual({ version: 1, value: '{"reborn":1}', format: 'json' });
  });

  test('a key deleted and created anew replaces an older key’s higher version, even one first pushed', () => {
    const { held } = heldWithErrors();
    held.applyPush(flags, value(7));
    // The first read says which key's versions these are.
    held.applyRead(
      flags,
      { version: 6, value: '{"v":6}', format: 'json', createdAt: '2026-01-01T00:00:00.000Z' },
      'version-check',
    );
    expect(held.value(flags)?.version).toBe(7);
    held.applyPush(flags, value(8));
    const reborn = {
      version: 1,
      value: '{"reborn":1}',
      format: 'json' as const,
      createdAt: '2026-03-01T00:00:00.000Z',
    };
    expect(held.applyRead(flags, reborn, 'version-check')).toBe(true);
    expect(held.value(flags)).toEqual({ version: 1, value: '{"reborn":1}', format: 'json' });
    // The new key's next version applies as usual.
    expect(held.applyPush(flags, value(2))).toEqual({ heldVersion: 2, applied: true });
  });

  test('a read of the same key that is older than a pushed candidate still does not replace it', () => {
    const { held } = heldWithErrors();
    const createdAt = '2026-01-01T00:00:00.000Z';
    held.applyRead(flags, { version: 1, value: '{"v":1}', format: 'json', createdAt }, 'load');
    held.applyPush(flags, value(2));
    expect(
      held.applyRead(flags, { version: 1, value: '{"v":1}', format: 'json', createdAt }, 'version-check'),
    ).toBe(false);
    expect(held.value(flags)?.version).toBe(2);
  });
});

describe('change listeners', () => {
  test('hear changes of their key only, with the tenant, service, versions and rollout id', () => {
    const { held, changes } = heldWithErrors();
    const endpoint = { tenantId: 'acme', key: 'param_config_apiEndpoint', service: 'orders' };
    const endpointChanges: ConfigChange[] = [];
    held.onChange(endpoint.key, (change) => {
      endpointChanges.push(change);
    });
    held.applyPush(endpoint, { ...value(1), value: { value: 'https://a', format: 'text' } });
    expect(changes).toHaveLength(0);
    expect(endpointChanges).toEqual([
      {
        tenantId: 'acme',
        key: endpoint.key,
        service: 'orders',
        previous: undefined,
        current: { version: 1, value: 'https://a', format: 'text' },
        heldVersion: 1,
        cause: 'push',
        rolloutId: 'rollout-1',
      },
    ]);
  });

  test('stop hearing after unsubscribing', () => {
    const held = new HeldConfig(() => undefined);
    const heard: number[] = [];
    const unsubscribe = held.onChange(flags.key, (change) => {
      heard.push(change.heldVersion);
    });
    held.applyPush(flags, value(1));
    unsubscribe();
    held.applyPush(flags, value(2));
    expect(heard).toEqual([1]);
  });

  test('a throwing or rejecting listener is reported and neither blocks the change nor other listeners', async () => {
    const { held, changes, listenerErrors } = heldWithErrors();
    held.onChange(flags.key, () => {
      throw new Error('listener bug');
    });
    held.onChange(flags.key, () => Promise.reject(new Error('async listener bug')));
    const later: number[] = [];
    held.onChange(flags.key, (change) => {
      later.push(change.heldVersion);
    });
    expect(held.applyPush(flags, value(1))).toEqual({ heldVersion: 1, applied: true });
    await new Promise((resolve) => setImmediate(resolve));
    expect(changes).toHaveLength(1);
    expect(later).toEqual([1]);
    expect(listenerErrors.map((e) => (e as Error).message).sort()).toEqual([
      'async listener bug',
      'listener bug',
    ]);
  });
});
