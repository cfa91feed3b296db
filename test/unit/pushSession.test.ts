import { generateKeyPairSync } from 'node:crypto';
import { signInstanceGrant } from '../../common/instanceGrant';
import { InstancePushSessions, WorkerPushSessions } from '../../common/pushSession';
import { generateSealingKeys, openSealedValue, SealedValueError, sealValue } from '../../common/sealedValue';

/** Push sessions (common/pushSession.ts) one step at a time; the real calls are in sdk and security tests. */
const controlPlane = generateKeyPairSync('ed25519');
const NOW = 1_800_000_000;

test('the worker and an instance derive the same keys, and another instance derives other ones', () => {
  const session = new WorkerPushSessions(controlPlane.privateKey).current(NOW);
  const instanceKeys = generateSealingKeys();
  const otherKeys = generateSealingKeys();
  const instance = new InstancePushSessions(controlPlane.publicKey, instanceKeys);
  const other = new InstancePushSessions(controlPlane.publicKey, otherKeys);

  const sealed = sealValue(session.keysFor(instanceKeys.publicKey).sealKey, 'secret', 'ctx');
  expect(openSealedValue(instance.keysFor(session.certificate, NOW).sealKey, sealed, 'ctx')).toBe('secret');
  expect(instance.keysFor(session.certificate, NOW).macKey).toEqual(
    session.keysFor(instanceKeys.publicKey).macKey,
  );
  expect(() => openSealedValue(other.keysFor(session.certificate, NOW).sealKey, sealed, 'ctx')).toThrow(
    SealedValueError,
  );
  expect(other.keysFor(session.certificate, NOW).macKey).not.toEqual(
    instance.keysFor(session.certificate, NOW).macKey,
  );
});

test('a certificate checked for one verify key is not taken for another: the process-wide cache is per key', () => {
  const session = new WorkerPushSessions(controlPlane.privateKey).current(NOW);
  const trusting = new InstancePushSessions(controlPlane.publicKey, generateSealingKeys());
  const stranger = generateKeyPairSync('ed25519');
  const distrusting = new InstancePushSessions(stranger.publicKey, generateSealingKeys());

  expect(() => trusting.keysFor(session.certificate, NOW)).not.toThrow();
  expect(() => distrusting.keysFor(session.certificate, NOW)).toThrow(
    /push session refused: invalid signature/,
  );
});

test('a session is renewed before it expires, and an expired one is refused even once known', () => {
  const sessions = new WorkerPushSessions(controlPlane.privateKey);
  const first = sessions.current(NOW);
  expect(sessions.current(NOW + 2999).certificate).toBe(first.certificate);
  expect(sessions.current(NOW + 3000).certificate).not.toBe(first.certificate);

  const instance = new InstancePushSessions(controlPlane.publicKey, generateSealingKeys());
  expect(() => instance.keysFor(first.certificate, NOW)).not.toThrow();
  expect(() => instance.keysFor(first.certificate, NOW + 3600 + 6)).toThrow(/push session refused: expired/);
  expect(() =>
    new InstancePushSessions(controlPlane.publicKey, generateSealingKeys()).keysFor(
      first.certificate,
      NOW - 60,
    ),
  ).toThrow(/issued in the future/);
});

test('another token signed with the same key is not a session certificate', () => {
  const { token } = signInstanceGrant(
    controlPlane.privateKey,
    { service: 'orders', tenancy: 'pool', sealingKey: generateSealingKeys().publicKey },
    3600,
    NOW,
  );
  const instance = new InstancePushSessions(controlPlane.publicKey, generateSealingKeys());
  expect(() => instance.keysFor(token, NOW)).toThrow(/push session refused: wrong issuer/);
});
