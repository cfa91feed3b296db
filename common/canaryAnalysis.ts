import {
  CANARY_DEFAULTS,
  type CanaryPlan,
  MAX_BAKE_SECONDS,
  type OutcomeTally,
  type WaveCanary,
} from './rollout';

/**
 * The canary analysis' statistics: pure and deterministic, so the workflow runs them and tests pin them.
 *
 * The test: a one-sided two-proportion z-test. H0: the instances holding the candidate fail no more
 * often than those on live; H1: they fail more often. With x errors in n requests per group and the
 * pooled ratio p = (x_c + x_b) / (n_c + n_b), z = (x_c/n_c - x_b/n_b) / sqrt(p (1 - p) (1/n_c + 1/n_b)),
 * and the candidate regressed when z exceeds the normal quantile of the plan's confidence (1.645 at
 * 95%). The test is run only once both groups recorded at least `minSamples` requests in the window,
 * where the normal approximation holds well enough for error ratios that matter.
 */

/** One instance's answer: the version it holds and what its application recorded while holding it. */
export interface OutcomeSample {
  /** `service/instanceId`. */
  readonly instance: string;
  readonly version: number;
  readonly requests: number;
  readonly errors: number;
}

export type CanarySettings = Required<CanaryPlan>;

export type CanaryVerdict =
  | { readonly kind: 'insufficient' }
  | { readonly kind: 'passed' | 'regressed'; readonly z: number; readonly threshold: number };

export const MIN_CANARY_SAMPLES = 10;
export const MAX_CANARY_SAMPLES = 10_000_000;
export const MIN_CANARY_CONFIDENCE = 0.5;
export const MAX_CANARY_CONFIDENCE = 0.9999;
/** An extension step waits at least this long: shorter steps would cost history for little news. */
export const MIN_EXTRA_BAKE_STEP_SECONDS = 10;

/** The plan's canary settings with the defaults filled in, the extension capped by MAX_BAKE_SECONDS. */
export function canarySettings(canary: CanaryPlan, bakeSeconds: number): CanarySettings {
  const maxExtra = canary.maxExtraBakeSeconds ?? CANARY_DEFAULTS.maxExtraBakeSeconds;
  return {
    minSamples: canary.minSamples ?? CANARY_DEFAULTS.minSamples,
    confidence: canary.confidence ?? CANARY_DEFAULTS.confidence,
    maxExtraBakeSeconds: Math.max(0, Math.min(maxExtra, MAX_BAKE_SECONDS - bakeSeconds)),
    onInsufficientSamples: canary.onInsufficientSamples ?? CANARY_DEFAULTS.onInsufficientSamples,
  };
}

/** Every problem with `plan.canary`, each naming its field. */
export function canaryProblems(canary: CanaryPlan, bakeSeconds: number): string[] {
  if (typeof canary !== 'object' || canary === null || Array.isArray(canary))
    return ['plan.canary: an object (give {} for the defaults)'];
  const problems: string[] = [];
  const { minSamples, confidence, maxExtraBakeSeconds, onInsufficientSamples } = canary;
  if (
    minSamples !== undefined &&
    (!Number.isInteger(minSamples) || minSamples < MIN_CANARY_SAMPLES || minSamples > MAX_CANARY_SAMPLES)
  ) {
    problems.push(`plan.canary.minSamples: an integer from ${MIN_CANARY_SAMPLES} to ${MAX_CANARY_SAMPLES}`);
  }
  if (
    confidence !== undefined &&
    !(
      typeof confidence === 'number' &&
      confidence > MIN_CANARY_CONFIDENCE &&
      confidence <= MAX_CANARY_CONFIDENCE
    )
  ) {
    problems.push(
      `plan.canary.confidence: a number above ${MIN_CANARY_CONFIDENCE} and at most ${MAX_CANARY_CONFIDENCE}`,
    );
  }
  const maxExtra = MAX_BAKE_SECONDS - (Number.isInteger(bakeSeconds) ? bakeSeconds : 0);
  if (
    maxExtraBakeSeconds !== undefined &&
    (!Number.isInteger(maxExtraBakeSeconds) || maxExtraBakeSeconds < 0 || maxExtraBakeSeconds > maxExtra)
  ) {
    problems.push(
      `plan.canary.maxExtraBakeSeconds: an integer from 0 to ${maxExtra} (a wave bakes at most ${MAX_BAKE_SECONDS} s in all)`,
    );
  }
  if (onInsufficientSamples !== undefined && !['fail', 'pass'].includes(onInsufficientSamples)) {
    problems.push('plan.canary.onInsufficientSamples: fail or pass');
  }
  const known = new Set(['minSamples', 'confidence', 'maxExtraBakeSeconds', 'onInsufficientSamples']);
  for (const field of Object.keys(canary).filter((name) => !known.has(name)))
    problems.push(`plan.canary.${field}: not a canary setting`);
  return problems;
}

/**
 * What one group recorded in a window: per instance, its counters at the window's end less those at its
 * start, for the instances holding `version` at the end. An instance that held another version at the
 * start began counting within the window (its counters restart with each version), so all its counts
 * are the window's; one not heard from at the start cannot be placed in time and is left out.
 * Counters an instance cannot honestly answer are not trusted, and the instance is left out (and
 * named): not safe non-negative integers, more errors than requests, or fewer than it answered at the
 * start. A lying instance can so only take its own samples out of the analysis, never distort it.
 */
export function windowTally(
  start: readonly OutcomeSample[],
  end: readonly OutcomeSample[],
  version: number,
): { tally: OutcomeTally; untrusted: string[] } {
  const before = new Map(start.map((sample) => [sample.instance, sample]));
  const untrusted: string[] = [];
  let instances = 0;
  let requests = 0;
  let errors = 0;
  for (const last of end) {
    if (last.version !== version) continue;
    const first = before.get(last.instance);
    if (!first) continue;
    if (!plausible(last) || (first.version === version && !plausible(first))) {
      untrusted.push(last.instance);
      continue;
    }
    const base = first.version === version ? first : { requests: 0, errors: 0 };
    const addedRequests = last.requests - base.requests;
    const addedErrors = last.errors - base.errors;
    if (addedRequests < 0 || addedErrors < 0 || addedErrors > addedRequests) {
      untrusted.push(last.instance);
      continue;
    }
    instances += 1;
    requests += addedRequests;
    errors += addedErrors;
  }
  return { tally: { instances, requests, errors }, untrusted };
}

function plausible(sample: OutcomeSample): boolean {
  const { requests, errors } = sample;
  return (
    Number.isSafeInteger(requests) &&
    Number.isSafeInteger(errors) &&
    requests >= 0 &&
    errors >= 0 &&
    errors <= requests
  );
}

/** The one-sided test, once both groups have `minSamples` requests; `insufficient` before. */
export function canaryVerdict(
  candidate: OutcomeTally,
  baseline: OutcomeTally,
  settings: Pick<CanarySettings, 'minSamples' | 'confidence'>,
): CanaryVerdict {
  if (candidate.requests < settings.minSamples || baseline.requests < settings.minSamples)
    return { kind: 'insufficient' };
  const z = twoProportionZ(candidate, baseline);
  const threshold = normalQuantile(settings.confidence);
  return { kind: z > threshold ? 'regressed' : 'passed', z, threshold };
}

/**
 * z of the candidate's error ratio over the baseline's. 0 where the pooled ratio is 0 or 1: both groups
 * all succeeded, or all failed, and neither is worse.
 */
export function twoProportionZ(candidate: OutcomeTally, baseline: OutcomeTally): number {
  const pooled = (candidate.errors + baseline.errors) / (candidate.requests + baseline.requests);
  const variance = pooled * (1 - pooled) * (1 / candidate.requests + 1 / baseline.requests);
  if (!(variance > 0)) return 0;
  return (ratio(candidate) - ratio(baseline)) / Math.sqrt(variance);
}

/**
 * The standard normal distribution's quantile (the inverse of its CDF) for p in (0, 1): Acklam's
 * rational approximation, relative error below 1.15e-9, enough for any confidence a plan may set.
 */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`normalQuantile: p must be in (0, 1), got ${p}`);
  const a = [
    -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716,
    2.506628277459239,
  ];
  const b = [
    -54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572,
  ];
  const c = [
    -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
    2.938163982698783,
  ];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const low = 0.02425;
  const tail = (q: number) =>
    (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) /
    ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
  if (p < low) return tail(Math.sqrt(-2 * Math.log(p)));
  if (p > 1 - low) return -tail(Math.sqrt(-2 * Math.log(1 - p)));
  const q = p - 0.5;
  const r = q * q;
  return (
    ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) /
    (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1)
  );
}

/** At most this many extension steps per wave, whatever the bound: each costs a timer and two snapshots. */
export const MAX_EXTRA_BAKE_STEPS = 10;

/**
 * How long the next extension waits: as long as the bake, at least MIN_EXTRA_BAKE_STEP_SECONDS and a
 * tenth of the bound, within what is left of it; 0 once the bound is reached.
 */
export function extraBakeStep(bakeSeconds: number, extraSoFar: number, settings: CanarySettings): number {
  const left = settings.maxExtraBakeSeconds - extraSoFar;
  const step = Math.max(
    bakeSeconds,
    MIN_EXTRA_BAKE_STEP_SECONDS,
    Math.ceil(settings.maxExtraBakeSeconds / MAX_EXTRA_BAKE_STEPS),
  );
  return Math.max(0, Math.min(left, step));
}

/** `2.0% (10/500 requests, 3 instances)` */
export function describeTally(tally: OutcomeTally): string {
  const percent = tally.requests > 0 ? `${(ratio(tally) * 100).toFixed(2)}%` : 'n/a';
  return `${percent} (${tally.errors}/${tally.requests} requests, ${tally.instances} instance(s))`;
}

/** The analysis as progress shows it, with a one-line summary of the figures. */
export function waveCanary(
  analysis: Omit<WaveCanary, 'summary'>,
  versions: { readonly candidate: number; readonly live?: number },
): WaveCanary {
  const figures =
    `candidate v${versions.candidate} error ratio ${describeTally(analysis.candidate)} vs ` +
    `live${versions.live !== undefined ? ` v${versions.live}` : ''} ${describeTally(analysis.baseline)}`;
  const test =
    analysis.z !== undefined && analysis.threshold !== undefined
      ? `, z = ${analysis.z.toFixed(2)} ${analysis.z > analysis.threshold ? '>' : '<='} ${analysis.threshold.toFixed(3)}`
      : '';
  const extra = analysis.extraBakeSeconds > 0 ? `, bake extended by ${analysis.extraBakeSeconds} s` : '';
  const untrusted =
    analysis.untrusted > 0 ? `, ${analysis.untrusted} instance(s) left out (counters not trusted)` : '';
  return { ...analysis, summary: `${analysis.verdict}: ${figures}${test}${extra}${untrusted}` };
}

function ratio(tally: OutcomeTally): number {
  return tally.requests > 0 ? tally.errors / tally.requests : 0;
}
