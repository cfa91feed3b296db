import { ShapeChangeRefusedError } from '../../common/errors';
import { planProblems } from '../../common/rolloutPlan';
import { DEFAULT_PLAN } from '../../common/rollout';
import {
  assertShapeWithin,
  DEFAULT_SHAPE_MAX_FACTOR,
  SHAPE_BYTES_FLOOR,
  shapeChanges,
} from '../../common/shapeGuard';

/** A JSON object of `count` feature flags, each name padded so the value passes the byte floor. */
const flags = (count: number, pad = 40) =>
  JSON.stringify(
    Object.fromEntries(Array.from({ length: count }, (_, i) => [`feature_${i}`.padEnd(pad, 'x'), true])),
  );

test('the default factor catches a doubling, either way, in bytes and in top-level keys', () => {
  expect(DEFAULT_SHAPE_MAX_FACTOR).toBeLessThan(2);
  const live = flags(60);
  expect(shapeChanges(live, flags(120), DEFAULT_SHAPE_MAX_FACTOR).map((c) => c.measure)).toEqual([
    'bytes',
    'top-level keys',
  ]);
  expect(shapeChanges(flags(120), live, DEFAULT_SHAPE_MAX_FACTOR).map((c) => c.measure)).toEqual([
    'bytes',
    'top-level keys',
  ]);
});

test('a change within the factor passes: a few keys more, a value a little longer', () => {
  expect(shapeChanges(flags(60), flags(70), DEFAULT_SHAPE_MAX_FACTOR)).toEqual([]);
  expect(shapeChanges(flags(60), flags(60, 50), DEFAULT_SHAPE_MAX_FACTOR)).toEqual([]);
});

test('small values are not judged: a flag from "1" to "10", a flag set from 3 keys to 7', () => {
  expect(shapeChanges('1', '10', DEFAULT_SHAPE_MAX_FACTOR)).toEqual([]);
  expect(shapeChanges('{"a":1,"b":2,"c":3}', flags(7, 8), DEFAULT_SHAPE_MAX_FACTOR)).toEqual([]);
});

test('the floor applies to the larger of the two: a tiny value growing past it, or truncated from it, is judged', () => {
  const big = 'x'.repeat(SHAPE_BYTES_FLOOR * 4);
  expect(shapeChanges('x', big, DEFAULT_SHAPE_MAX_FACTOR)).toEqual([
    { measure: 'bytes', live: 1, candidate: big.length },
  ]);
  expect(shapeChanges(flags(60), '{}', DEFAULT_SHAPE_MAX_FACTOR).map((c) => c.measure)).toEqual([
    'bytes',
    'top-level keys',
  ]);
});

test('arrays are judged by their items; text that only looks like JSON by its bytes', () => {
  const items = (n: number) => JSON.stringify(Array.from({ length: n }, (_, i) => i));
  expect(shapeChanges(items(20), items(60), 100).map((c) => c.measure)).toEqual([]);
  expect(shapeChanges(items(20), items(60), 2).map((c) => c.measure)).toEqual(['array items']);
  expect(shapeChanges(`{${'x'.repeat(2000)}`, `{${'x'.repeat(5000)}`, 2).map((c) => c.measure)).toEqual([
    'bytes',
  ]);
});

test('bytes are UTF-8 bytes, not characters', () => {
  // 600 characters of two bytes each: 1,200 bytes, past the floor, against 600 one-byte characters.
  expect(shapeChanges('a'.repeat(600), 'é'.repeat(600), 1.5)).toEqual([
    { measure: 'bytes', live: 600, candidate: 1200 },
  ]);
});

test('the refusal names the field, the live version, the factor and each measure; a confirmation, "off", or no live version passes', () => {
  const live = { version: 7, value: flags(60) };
  const refused = (() => {
    try {
      assertShapeWithin({ live, candidate: flags(120), setting: undefined, confirmed: false });
    } catch (error) {
      return error;
    }
  })() as ShapeChangeRefusedError;
  expect(refused).toBeInstanceOf(ShapeChangeRefusedError);
  expect(refused.field).toBe('value');
  expect(refused.message).toMatch(/against live version 7 by more than the plan's factor of 1.5/);
  expect(refused.message).toMatch(/bytes \d+ → \d+ \(2\.\d\dx\); top-level keys 60 → 120 \(2\.00x\)/);
  expect(refused.message).toMatch(/allowShapeChange/);
  expect(() =>
    assertShapeWithin({ live, candidate: flags(120), setting: undefined, confirmed: true }),
  ).not.toThrow();
  expect(() =>
    assertShapeWithin({ live, candidate: flags(120), setting: 'off', confirmed: false }),
  ).not.toThrow();
  expect(() =>
    assertShapeWithin({ live, candidate: flags(120), setting: { maxFactor: 3 }, confirmed: false }),
  ).not.toThrow();
  expect(() =>
    assertShapeWithin({ live: undefined, candidate: flags(120), setting: undefined, confirmed: false }),
  ).not.toThrow();
});

test('plan.shapeGuard and plan.approvalTimeoutSeconds are validated naming the field', () => {
  const problems = (plan: Record<string, unknown>) => planProblems({ ...DEFAULT_PLAN, ...plan });
  expect(problems({ shapeGuard: 'off' })).toEqual([]);
  expect(problems({ shapeGuard: { maxFactor: 3 } })).toEqual([]);
  for (const bad of [
    { maxFactor: 1 },
    { maxFactor: 1001 },
    { maxFactor: '3' },
    'on',
    null,
    { maxFactor: 3, x: 1 },
  ]) {
    expect(problems({ shapeGuard: bad })).toEqual([expect.stringMatching(/^plan\.shapeGuard: /)]);
  }
  expect(problems({ approvalTimeoutSeconds: 7200 })).toEqual([]);
  for (const bad of [0, 1.5, 3 * 24 * 3600 + 1]) {
    expect(problems({ approvalTimeoutSeconds: bad })).toEqual([
      'plan.approvalTimeoutSeconds: an integer from 1 to 259200',
    ]);
  }
});
