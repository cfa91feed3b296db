import { InvalidArgumentError } from 'commander';
import {
  exponentialGrowth,
  failureTolerance,
  integerFrom,
  linearStep,
  reason,
  rolloutId,
  serviceNames,
  waveList,
} from '../../../cli/optionParsers';

describe('--waves', () => {
  test('counts become numbers and percentages stay percentages, as the API spells them', () => {
    expect(waveList('1,10%,50%,100%')).toEqual([1, '10%', '50%', '100%']);
    expect(waveList('2, 12.5% ,100%')).toEqual([2, '12.5%', '100%']);
  });

  test.each(['0', '-1', '1.5', 'x', '0%', '101%', '10 %', '', '1,,2', '50%%'])(
    '"%s" is refused, naming the entry at fault',
    (text) => {
      expect(() => waveList(text)).toThrow(InvalidArgumentError);
      expect(() => waveList(text)).toThrow(/neither a positive integer nor a percentage/);
    },
  );

  test('more than 100 waves is refused', () => {
    expect(() => waveList(Array.from({ length: 101 }, (_, i) => i + 1).join(','))).toThrow(/at most 100/);
  });
});

test('--linear takes a step percentage, with or without the % sign', () => {
  expect(linearStep('20%')).toBe(20);
  expect(linearStep('12.5')).toBe(12.5);
  for (const bad of ['0%', '150%', 'x', '-5%']) expect(() => linearStep(bad)).toThrow(InvalidArgumentError);
});

test('--exponential takes START%xFACTOR', () => {
  expect(exponentialGrowth('1%x2')).toEqual({ startPercent: 1, growthFactor: 2 });
  expect(exponentialGrowth('5X1.5')).toEqual({ startPercent: 5, growthFactor: 1.5 });
  for (const bad of ['1%', 'x2', '0%x2', '1%x1', '1%x101', '1%*2']) {
    expect(() => exponentialGrowth(bad)).toThrow(/START%xFACTOR/);
  }
});

test('--max-failures takes a count (zero included) or a percentage of the fleet', () => {
  expect(failureTolerance('0')).toBe(0);
  expect(failureTolerance('3')).toBe(3);
  expect(failureTolerance('5%')).toBe('5%');
  for (const bad of ['-1', '0%', '1.5', '200%', 'some'])
    expect(() => failureTolerance(bad)).toThrow(InvalidArgumentError);
});

test('bounded integers name their range', () => {
  const bake = integerFrom(0, 604_800);
  expect(bake('0')).toBe(0);
  expect(bake('300')).toBe(300);
  expect(() => bake('604801')).toThrow('must be an integer from 0 to 604800');
  expect(() => bake('1e3')).toThrow(InvalidArgumentError);
  expect(() => bake('-1')).toThrow(InvalidArgumentError);
});

test('--target repeats collect each valid service once', () => {
  const collected = ['orders', 'billing', 'orders'].reduce<string[]>((all, s) => serviceNames(s, all), []);
  expect(collected).toEqual(['orders', 'billing']);
  expect(() => serviceNames('../etc')).toThrow(InvalidArgumentError);
});

test("a rollout id is taken as the API printed it, within the API's length bounds", () => {
  const id = '0b5c3a1e-8a6f-4e0b-9d39-3c1f0a7e9b21~param_config_apiEndpoint~orders';
  expect(rolloutId(id)).toBe(id);
  for (const bad of ['0b5c3a1e', 'x'.repeat(241), `${id} `, `${id}/approve`]) {
    expect(() => rolloutId(bad)).toThrow(/the id that "rollout start" or "rollout list" printed/);
  }
});

test('--reason is bounded like the API', () => {
  expect(reason('canary healthy')).toBe('canary healthy');
  expect(() => reason('x'.repeat(501))).toThrow('at most 500 characters');
});
