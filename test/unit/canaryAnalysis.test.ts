import {
  canaryProblems,
  canarySettings,
  canaryVerdict,
  extraBakeStep,
  normalQuantile,
  twoProportionZ,
  windowTally,
} from '../../common/canaryAnalysis';
import { planProblems } from '../../common/rolloutPlan';
import { MAX_BAKE_SECONDS, type RolloutPlan } from '../../common/rollout';

const sample = (instance: string, version: number, requests: number, errors: number) => ({
  instance,
  version,
  requests,
  errors,
});

test('the normal quantile matches the tables: 1.645 at 95%, 1.960 at 97.5%, 2.326 at 99%, symmetric', () => {
  expect(normalQuantile(0.95)).toBeCloseTo(1.644854, 5);
  expect(normalQuantile(0.975)).toBeCloseTo(1.959964, 5);
  expect(normalQuantile(0.99)).toBeCloseTo(2.326348, 5);
  expect(normalQuantile(0.9999)).toBeCloseTo(3.719016, 4);
  expect(normalQuantile(0.5)).toBeCloseTo(0, 9);
  expect(normalQuantile(0.05)).toBeCloseTo(-1.644854, 5);
  expect(() => normalQuantile(1)).toThrow(RangeError);
});

test('z of two proportions: a textbook case, equal ratios give 0, all-ok or all-failing groups give 0', () => {
  // 60/500 against 30/500: p = 0.09, z = 0.06 / sqrt(0.09 * 0.91 * 0.004) = 3.315.
  expect(
    twoProportionZ({ instances: 1, requests: 500, errors: 60 }, { instances: 1, requests: 500, errors: 30 }),
  ).toBeCloseTo(3.315, 3);
  expect(
    twoProportionZ({ instances: 1, requests: 100, errors: 5 }, { instances: 1, requests: 300, errors: 15 }),
  ).toBe(0);
  expect(
    twoProportionZ({ instances: 1, requests: 100, errors: 0 }, { instances: 1, requests: 100, errors: 0 }),
  ).toBe(0);
  expect(
    twoProportionZ({ instances: 1, requests: 100, errors: 100 }, { instances: 1, requests: 50, errors: 50 }),
  ).toBe(0);
});

test('the verdict: regressed past the confidence bound, passed under it or when the candidate is better, insufficient below the minimum', () => {
  const settings = { minSamples: 100, confidence: 0.95 };
  const live = { instances: 4, requests: 1000, errors: 10 };
  expect(canaryVerdict({ instances: 1, requests: 200, errors: 10 }, live, settings)).toMatchObject({
    kind: 'regressed',
  });
  // 2/200 against 1%: the same ratio.
  expect(canaryVerdict({ instances: 1, requests: 200, errors: 2 }, live, settings)).toMatchObject({
    kind: 'passed',
    z: 0,
  });
  // A slight rise that 200 requests cannot tell from chance: 4/200 (2%) against 1%, z = 1.19.
  expect(canaryVerdict({ instances: 1, requests: 200, errors: 4 }, live, settings)).toMatchObject({
    kind: 'passed',
  });
  expect(canaryVerdict({ instances: 1, requests: 200, errors: 0 }, live, settings).kind).toBe('passed');
  expect(canaryVerdict({ instances: 1, requests: 99, errors: 99 }, live, settings)).toEqual({
    kind: 'insufficient',
  });
  expect(
    canaryVerdict({ instances: 1, requests: 500, errors: 500 }, { ...live, requests: 50 }, settings).kind,
  ).toBe('insufficient');
});

test('a window counts the deltas of instances holding the version at both ends; a version taken within it counts whole', () => {
  const start = [sample('a', 2, 0, 0), sample('b', 1, 900, 9), sample('c', 2, 40, 4)];
  const end = [sample('a', 2, 100, 7), sample('b', 2, 30, 3), sample('c', 2, 140, 6), sample('d', 2, 50, 50)];
  // a: +100/+7; b took v2 inside the window (its counters restarted): 30/3; c: +100/+2; d unheard at the start.
  expect(windowTally(start, end, 2)).toEqual({
    tally: { instances: 3, requests: 230, errors: 12 },
    untrusted: [],
  });
  // Instances on another version at the end are not in this group.
  expect(windowTally(start, [sample('a', 3, 10, 0)], 2).tally).toEqual({
    instances: 0,
    requests: 0,
    errors: 0,
  });
});

test('absurd counters are not trusted: negative, more errors than requests, past 2^53, or going backwards', () => {
  const start = [
    sample('neg', 1, 0, 0),
    sample('more', 1, 0, 0),
    sample('huge', 1, 0, 0),
    sample('back', 1, 500, 5),
    sample('nan', 1, 0, 0),
    sample('ok', 1, 10, 0),
  ];
  const end = [
    sample('neg', 1, 100, -50),
    sample('more', 1, 10, 20),
    sample('huge', 1, 2 ** 63, 0),
    sample('back', 1, 100, 1),
    sample('nan', 1, Number.NaN, 0),
    sample('ok', 1, 110, 1),
  ];
  const { tally, untrusted } = windowTally(start, end, 1);
  expect(untrusted.sort()).toEqual(['back', 'huge', 'more', 'nan', 'neg']);
  expect(tally).toEqual({ instances: 1, requests: 100, errors: 1 });
  // Errors that grow faster than requests within the window are absurd too.
  expect(windowTally([sample('x', 1, 100, 0)], [sample('x', 1, 110, 20)], 1).untrusted).toEqual(['x']);
});

test('settings take the defaults and cap the extension at the hour a wave may bake', () => {
  expect(canarySettings({}, 60)).toEqual({
    minSamples: 100,
    confidence: 0.95,
    maxExtraBakeSeconds: 300,
    onInsufficientSamples: 'fail',
  });
  expect(canarySettings({}, MAX_BAKE_SECONDS - 100).maxExtraBakeSeconds).toBe(100);
  const settings = canarySettings({ maxExtraBakeSeconds: 600 }, 30);
  // Steps as long as the bake, but at least a tenth of the bound: at most ten steps.
  expect(extraBakeStep(30, 0, settings)).toBe(60);
  expect(extraBakeStep(30, 580, settings)).toBe(20);
  expect(extraBakeStep(30, 600, settings)).toBe(0);
  expect(extraBakeStep(0, 0, canarySettings({ maxExtraBakeSeconds: 30 }, 0))).toBe(10);
});

test('plan.canary is checked field by field, each problem naming its field', () => {
  const plan = (canary: unknown): RolloutPlan => ({
    strategy: { kind: 'explicit', waves: [1, '100%'] },
    bakeSeconds: 3000,
    approval: 'none',
    maxFailures: 0,
    canary: canary as RolloutPlan['canary'],
  });
  expect(planProblems(plan({}))).toEqual([]);
  expect(
    planProblems(
      plan({ minSamples: 5, confidence: 1, maxExtraBakeSeconds: 601, onInsufficientSamples: 'maybe', z: 3 }),
    ),
  ).toEqual([
    'plan.canary.minSamples: an integer from 10 to 10000000',
    'plan.canary.confidence: a number above 0.5 and at most 0.9999',
    'plan.canary.maxExtraBakeSeconds: an integer from 0 to 600 (a wave bakes at most 3600 s in all)',
    'plan.canary.onInsufficientSamples: fail or pass',
    'plan.canary.z: not a canary setting',
  ]);
  expect(canaryProblems('yes' as never, 0)).toEqual(['plan.canary: an object (give {} for the defaults)']);
  expect(planProblems(plan({ confidence: '0.95' }))).toEqual([
    'plan.canary.confidence: a number above 0.5 and at most 0.9999',
  ]);
});
