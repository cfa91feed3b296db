import { tenantVisibleReason } from '../../activities/refresh/instanceReason';
import type { ServiceInstance } from '../../common/cloudMap';

const pooled: ServiceInstance = {
  instanceId: 'i-07',
  service: 'orders',
  address: '10.1.2.3',
  port: 50051,
  tenancy: 'pool',
  sealingKey: 'sealing-key',
};

test("a gRPC error quoting the instance's address names the instance by id instead", () => {
  const reason = tenantVisibleReason(
    'UNAVAILABLE: No connection established. Last error: connect ECONNREFUSED 10.1.2.3:50051',
    pooled,
  );
  expect(reason).toBe(
    'UNAVAILABLE: No connection established. Last error: connect ECONNREFUSED <orders/i-07>',
  );
});

test('any other IPv4 or IPv6 address, with or without a port or scheme, is left out', () => {
  for (const quoted of ['ipv4:10.9.9.9:1234', '[fd00::1]:50051', 'fe80::1ff:fe23:4567:890a', '192.168.0.4']) {
    const reason = tenantVisibleReason(`UNAVAILABLE: read ECONNRESET ${quoted}`, pooled);
    expect(reason).toBe('UNAVAILABLE: read ECONNRESET <address>');
  }
});

test("the instance's own words and timestamps are kept", () => {
  expect(tenantVisibleReason('holds version 3, not 4 (at 2026-12-01T12:00:00.000Z)', pooled)).toBe(
    'holds version 3, not 4 (at 2026-12-01T12:00:00.000Z)',
  );
});
