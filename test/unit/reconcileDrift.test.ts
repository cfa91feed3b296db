import { type KeyState, repairFor } from '../../activities/reconcile/drift';

const address = { tenantId: 'acme', key: 'tenant_config_flags' };
const live: KeyState = { address, live: { version: 5, value: '{"on":true}', format: 'json' }, stored: true };

test('an instance holding the live version, or nothing of the key, is left alone', () => {
  expect(repairFor(live, 5)).toBeUndefined();
  expect(repairFor(live, 0)).toBeUndefined();
  expect(repairFor({ address, stored: false }, 0)).toBeUndefined();
});

test('an instance behind live gets the live version as an ordinary push', () => {
  expect(repairFor(live, 3)).toEqual({
    kind: 'missed-push',
    payload: { ...address, version: 5, value: '{"on":true}', format: 'json' },
  });
});

test('an instance ahead of live holds a never-live candidate: live is pushed with revert_from', () => {
  expect(repairFor(live, 7)).toEqual({
    kind: 'never-live-candidate',
    payload: { ...address, version: 5, value: '{"on":true}', format: 'json', revertFrom: 7 },
  });
});

test('a key gone from the store is forgotten; one whose only version never went live is reverted to absent', () => {
  expect(repairFor({ address, stored: false }, 2)).toEqual({
    kind: 'removed-key',
    payload: { ...address, version: 0, removed: true, format: 'text' },
  });
  expect(repairFor({ address, stored: true }, 1)).toEqual({
    kind: 'removed-key',
    payload: { ...address, version: 0, removed: true, format: 'text', revertFrom: 1 },
  });
});

test('a per-service key keeps its service in the push', () => {
  const perService: KeyState = {
    address: { tenantId: 'acme', key: 'param_config_db', service: 'orders' },
    live: { version: 2, value: 'db:5432', format: 'text' },
    stored: true,
  };
  expect(repairFor(perService, 1)?.payload).toMatchObject({ service: 'orders', version: 2 });
});
