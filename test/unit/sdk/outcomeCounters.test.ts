import { OutcomeCounters } from '../../../sdk/outcomeCounters';

const acme = { tenantId: 'acme', key: 'tenant_config_flags' };
const globex = { tenantId: 'globex', key: 'tenant_config_flags' };

test('a million records of one key keep one counter of two numbers; tenants never share one', () => {
  const counters = new OutcomeCounters();
  for (let i = 0; i < 1_000_000; i += 1) counters.record(acme, 2, i % 100 === 0 ? 'error' : 'ok');
  counters.record(globex, 2, 'error');
  expect(counters.size).toBe(2);
  expect(counters.countsFor(acme, 2)).toEqual({ version: 2, requests: 1_000_000, errors: 10_000 });
  expect(counters.countsFor(globex, 2)).toEqual({ version: 2, requests: 1, errors: 1 });
});

test('a new held version counts from zero; counts are answered only for the version held', () => {
  const counters = new OutcomeCounters();
  counters.record(acme, 1, 'error');
  expect(counters.countsFor(acme, 2)).toEqual({ version: 2, requests: 0, errors: 0 });
  counters.record(acme, 2, 'ok');
  expect(counters.countsFor(acme, 2)).toEqual({ version: 2, requests: 1, errors: 0 });
  expect(counters.countsFor(acme, 1)).toEqual({ version: 1, requests: 0, errors: 0 });
  expect(counters.size).toBe(1);
});
