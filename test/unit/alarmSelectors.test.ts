import { alarmProblems, MAX_ALARM_SELECTORS, tenantAlarmName } from '../../common/alarms';
import { DEFAULT_PLAN } from '../../common/rollout';
import { planProblems } from '../../common/rolloutPlan';

test('a plan without alarms, or with valid names and prefixes, has no alarm problem', () => {
  expect(alarmProblems(undefined)).toEqual([]);
  expect(
    planProblems({ ...DEFAULT_PLAN, alarms: [{ name: 'orders/5xx' }, { prefix: 'checkout/' }] }),
  ).toEqual([]);
});

test('each malformed selector is named by its field', () => {
  expect(
    alarmProblems([
      { name: 'ok' },
      { name: 'ok' },
      { name: 'a', prefix: 'b' },
      {},
      { prefix: '/root' },
      { name: '../acme/5xx' },
      { name: 'x'.repeat(161) },
      'orders',
    ]),
  ).toEqual([
    'plan.alarms[1]: the same name as plan.alarms[0]',
    'plan.alarms[2]: give exactly one of name and prefix',
    'plan.alarms[3]: give exactly one of name and prefix',
    expect.stringMatching(/^plan\.alarms\[4\]\.prefix: 1 to 160 of /),
    expect.stringMatching(/^plan\.alarms\[5\]\.name: 1 to 160 of /),
    expect.stringMatching(/^plan\.alarms\[6\]\.name: 1 to 160 of /),
    'plan.alarms[7]: give exactly one of name and prefix',
  ]);
  expect(alarmProblems({ name: 'x' })).toEqual(['plan.alarms: a list of {name} or {prefix} selectors']);
});

test('more selectors than the bound are refused naming plan.alarms', () => {
  const many = Array.from({ length: MAX_ALARM_SELECTORS + 1 }, (_, i) => ({ name: `a${i}` }));
  expect(alarmProblems(many)).toEqual([`plan.alarms: at most ${MAX_ALARM_SELECTORS} selectors`]);
});

test("a tenant's alarm names end its namespace with a slash, so no tenant id is a prefix of another's names", () => {
  expect(tenantAlarmName('acme', '')).toBe('config-rollouts/acme/');
  expect(tenantAlarmName('acme-eu', 'x').startsWith(tenantAlarmName('acme', ''))).toBe(false);
});
