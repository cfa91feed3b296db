import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { duration, shapeGuard } from '../../../cli/optionParsers';
import { formatPlan } from '../../../cli/render/planViews';
import { startRolloutBody } from '../../../cli/startRequest';
import { UsageError } from '../../../cli/usageError';
import { DEFAULT_PUSH_SETTINGS } from '../../../common/rollout';

const KEY = 'tenant_config_featureFlags';

function tempFile(content: string): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'cfgctl-')), 'value.json');
  writeFileSync(file, content);
  return file;
}

test('only what was given goes into the body, so the server applies its own defaults', () => {
  expect(startRolloutBody(KEY, { value: '{"beta":true}' })).toEqual({ key: KEY, value: '{"beta":true}' });
});

test('every plan option lands in its StartRollout field', () => {
  expect(
    startRolloutBody(KEY, {
      value: '{"beta":true}',
      target: ['orders', 'billing'],
      waves: [1, '10%', '100%'],
      bake: 0,
      approval: 'after-first-wave',
      maxFailures: '5%',
      pushTimeout: 500,
      pushAttempts: 2,
      pushConcurrency: 8,
    }),
  ).toEqual({
    key: KEY,
    value: '{"beta":true}',
    targetServices: ['orders', 'billing'],
    plan: {
      strategy: { kind: 'explicit', waves: [1, '10%', '100%'] },
      bakeSeconds: 0,
      approval: 'after-first-wave',
      maxFailures: '5%',
      push: { timeoutMs: 500, attempts: 2, concurrency: 8 },
    },
  });
});

test('--linear and --exponential become their strategies', () => {
  expect(startRolloutBody(KEY, { version: 3, linear: 20 })).toEqual({
    key: KEY,
    version: 3,
    plan: { strategy: { kind: 'linear', stepPercent: 20 } },
  });
  expect(startRolloutBody(KEY, { version: 3, exponential: { startPercent: 1, growthFactor: 2 } })).toEqual({
    key: KEY,
    version: 3,
    plan: { strategy: { kind: 'exponential', startPercent: 1, growthFactor: 2 } },
  });
});

test('--max-failures 0 is a budget of zero, not an omission', () => {
  expect(startRolloutBody(KEY, { value: 'x', maxFailures: 0 }).plan).toEqual({ maxFailures: 0 });
});

test('one push setting alone keeps the others at the shared defaults (the API takes them together)', () => {
  expect(startRolloutBody(KEY, { value: 'x', pushAttempts: 5 }).plan).toEqual({
    push: { ...DEFAULT_PUSH_SETTINGS, attempts: 5 },
  });
});

test('--service is sent as given, and per-service keys leave the targets to the server', () => {
  expect(startRolloutBody('param_config_apiEndpoint', { value: 'https://a', service: 'orders' })).toEqual({
    key: 'param_config_apiEndpoint',
    service: 'orders',
    value: 'https://a',
  });
});

test('--value-file sends the file, less one final line break', () => {
  expect(startRolloutBody(KEY, { valueFile: tempFile('{"beta":true}\n') }).value).toBe('{"beta":true}');
  expect(startRolloutBody(KEY, { valueFile: tempFile('a\r\n') }).value).toBe('a');
  expect(startRolloutBody(KEY, { valueFile: tempFile('{\n  "beta": true\n}\n\n') }).value).toBe(
    '{\n  "beta": true\n}\n',
  );
});

test('an unreadable or empty --value-file is a usage error naming the option', () => {
  expect(() => startRolloutBody(KEY, { valueFile: '/nonexistent/value.json' })).toThrow(
    /--value-file: cannot read \/nonexistent\/value.json/,
  );
  expect(() => startRolloutBody(KEY, { valueFile: tempFile('\n') })).toThrow(
    '--value-file: the value is empty',
  );
});

test('exactly one of --value, --value-file, --version and --remove', () => {
  expect(() => startRolloutBody(KEY, {})).toThrow(UsageError);
  expect(() => startRolloutBody(KEY, {})).toThrow(
    'say what to roll out: --value, --value-file, --version or --remove',
  );
  expect(() => startRolloutBody(KEY, { value: 'x', version: 2 })).toThrow(
    'give only one of --value, --value-file, --version and --remove (got --value, --version)',
  );
  expect(() => startRolloutBody(KEY, { version: 2, remove: true })).toThrow(
    'give only one of --value, --value-file, --version and --remove (got --version, --remove)',
  );
  expect(() => startRolloutBody(KEY, { value: '' })).toThrow('--value: the value is empty');
});

test('--remove asks for the removal and nothing else', () => {
  expect(startRolloutBody(KEY, { remove: true, target: ['orders'] })).toEqual({
    key: KEY,
    remove: true,
    targetServices: ['orders'],
  });
});

test('at most one wave strategy', () => {
  expect(() => startRolloutBody(KEY, { value: 'x', waves: [1], linear: 20 })).toThrow(
    'give at most one of --waves, --linear and --exponential (got --waves, --linear)',
  );
});

test('--shape-guard, --approval-timeout and --allow-shape-change land in the plan and the body; bad ones name the option', () => {
  const approvalTimeout = duration(1, 259_200);
  expect([
    approvalTimeout('2h'),
    approvalTimeout('30m'),
    approvalTimeout('90s'),
    approvalTimeout('3d'),
  ]).toEqual([7200, 1800, 90, 259_200]);
  for (const bad of ['0', '4d', '2 h', '1.5h', 'h'])
    expect(() => approvalTimeout(bad)).toThrow(/a duration such as 2h/);
  expect(shapeGuard('off')).toBe('off');
  expect(shapeGuard('3')).toEqual({ maxFactor: 3 });
  for (const bad of ['1', '0.5', '1001', 'on']) expect(() => shapeGuard(bad)).toThrow(/a factor above 1/);
  expect(
    startRolloutBody(KEY, {
      value: '{"beta":true}',
      shapeGuard: { maxFactor: 3 },
      approvalTimeout: 7200,
      allowShapeChange: true,
    }),
  ).toEqual({
    key: KEY,
    value: '{"beta":true}',
    plan: { shapeGuard: { maxFactor: 3 }, approvalTimeoutSeconds: 7200 },
    allowShapeChange: true,
  });
});

test('a plan shows its shape guard and approval timeout when set, and only then', () => {
  const base = {
    strategy: { kind: 'explicit' as const, waves: ['100%' as const] },
    bakeSeconds: 0,
    approval: 'none' as const,
    maxFailures: 0,
  };
  expect(formatPlan(base)).toBe('waves 100%, bake 0s, approval none, max failures 0');
  expect(formatPlan({ ...base, shapeGuard: { maxFactor: 3 }, approvalTimeoutSeconds: 7200 })).toBe(
    'waves 100%, bake 0s, approval none, max failures 0, shape guard 3x, approval timeout 7200s',
  );
  expect(formatPlan({ ...base, shapeGuard: 'off' })).toMatch(/, shape guard off$/);
});
