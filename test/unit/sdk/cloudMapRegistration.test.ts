import { networkInterfaces } from 'node:os';
import { advertisedAddress, instanceAttributes } from '../../../sdk/cloudMapRegistration';
import { CloudMapRegistrationError } from '../../../sdk/errors';

describe('the attributes an instance registers with', () => {
  test('a silo instance names its tenant, address, port and zone', () => {
    expect(
      instanceAttributes({
        address: '10.0.0.7',
        port: 7001,
        tenancy: { kind: 'silo', tenantId: 'acme' },
        zone: 'eu-west-1a',
        grant: 'grant-a',
      }),
    ).toEqual({
      grant: 'grant-a',
      AWS_INSTANCE_IPV4: '10.0.0.7',
      AWS_INSTANCE_PORT: '7001',
      tenancy: 'silo',
      tenant: 'acme',
      zone: 'eu-west-1a',
    });
  });

  test('a pooled instance names no tenant, and no zone when it has none', () => {
    expect(
      instanceAttributes({ address: '10.0.0.8', port: 7002, tenancy: { kind: 'pool' }, grant: 'grant-p' }),
    ).toEqual({
      grant: 'grant-p',
      AWS_INSTANCE_IPV4: '10.0.0.8',
      AWS_INSTANCE_PORT: '7002',
      tenancy: 'pool',
    });
  });
});

describe('the address an instance advertises', () => {
  test('is the bind address when that is a specific IPv4', () => {
    expect(advertisedAddress('127.0.0.1')).toBe('127.0.0.1');
  });

  test('is the override when one is given', () => {
    expect(advertisedAddress('0.0.0.0', '10.1.2.3')).toBe('10.1.2.3');
  });

  test('is an external IPv4 of this host when bound to every interface', () => {
    const external = Object.values(networkInterfaces())
      .flat()
      .filter((nic) => nic?.family === 'IPv4' && !nic.internal)
      .map((nic) => nic?.address);
    if (external.length > 0) expect(external).toContain(advertisedAddress('0.0.0.0'));
    else expect(() => advertisedAddress('0.0.0.0')).toThrow(CloudMapRegistrationError);
  });

  test('cannot be guessed for a host name, and says to set advertiseAddress', () => {
    expect(() => advertisedAddress('localhost')).toThrow(/set advertiseAddress/);
  });

  test('refuses an override that is not IPv4', () => {
    expect(() => advertisedAddress('0.0.0.0', 'orders.internal')).toThrow(CloudMapRegistrationError);
  });
});
