import { condition, isCancellation, proxyActivities } from '@temporalio/workflow';
import type { RolloutActivities } from '../activities/rolloutActivities';
import {
  canarySettings,
  canaryVerdict,
  extraBakeStep,
  type OutcomeSample,
  waveCanary,
  windowTally,
} from '../common/canaryAnalysis';
import type { ServiceInstance } from '../common/cloudMap';
import {
  type CanaryPlan,
  FLEET_SHARD_SIZE,
  type OutcomeTally,
  type PushSettings,
  type RolloutRequest,
  type WaveCanary,
} from '../common/rollout';

// A snapshot asks at most FLEET_SHARD_SIZE instances once each (Health, in parallel): minutes at worst,
// heartbeating. A snapshot that fails for good fails the gate closed (the caller rolls back).
const snapshots = proxyActivities<RolloutActivities>({
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '30 seconds',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '10 seconds',
    maximumAttempts: 3,
  },
});

export interface CanaryGateDeps {
  readonly request: RolloutRequest;
  readonly canary: CanaryPlan;
  readonly settings: PushSettings;
  readonly versions: { readonly candidate: number; readonly live?: number };
  /** True once the rollout is aborted: an extended bake stops waiting, and the caller rolls back. */
  readonly interrupted: () => boolean;
  /** Publishes a wave's analysis in its progress. */
  readonly report: (wave: number, analysis: WaveCanary) => void;
}

/** A wave's analysis window: the two groups, and what each instance had recorded when it opened. */
export interface CanaryWindow {
  readonly wave: number;
  readonly candidates: readonly ServiceInstance[];
  readonly baseline: readonly ServiceInstance[];
  readonly start: Snapshot;
  /** Why the window could not open (the snapshot failed for good): the gate then fails closed. */
  readonly failure?: string;
}

interface Snapshot {
  readonly candidates: readonly OutcomeSample[];
  readonly baseline: readonly OutcomeSample[];
}

export interface CanaryGate {
  /**
   * Opens a wave's window as its bake starts: snapshots the instances holding the candidate and a
   * sample of those still on live (each at most FLEET_SHARD_SIZE). Undefined on the last wave of
   * several, which leaves none on live to compare with: it gets the health gate only.
   */
  open(
    wave: number,
    waveCount: number,
    candidates: readonly ServiceInstance[],
    stillOnLive: readonly ServiceInstance[],
  ): Promise<CanaryWindow | undefined>;
  /**
   * After the bake: snapshots again and tests the window's deltas. Too few samples extends the bake in
   * steps up to the plan's bound, then the plan's `onInsufficientSamples` decides. Answers why the
   * rollout must roll back, or undefined to go on.
   */
  judge(window: CanaryWindow | undefined): Promise<string | undefined>;
}

/** The canary analysis gate (plan.canary): see common/canaryAnalysis.ts for the test. */
export function canaryGate(deps: CanaryGateDeps): CanaryGate {
  return new CanaryAnalysis(deps);
}

const none: OutcomeTally = { instances: 0, requests: 0, errors: 0 };

class CanaryAnalysis implements CanaryGate {
  private readonly bakeSeconds: number;
  private readonly settings: ReturnType<typeof canarySettings>;

  constructor(private readonly deps: CanaryGateDeps) {
    this.bakeSeconds = deps.request.plan.bakeSeconds;
    this.settings = canarySettings(deps.canary, this.bakeSeconds);
  }

  async open(
    wave: number,
    waveCount: number,
    candidates: readonly ServiceInstance[],
    stillOnLive: readonly ServiceInstance[],
  ): Promise<CanaryWindow | undefined> {
    const { deps } = this;
    if (waveCount > 1 && wave === waveCount - 1) {
      deps.report(wave, {
        verdict: 'skipped',
        candidate: none,
        baseline: none,
        extraBakeSeconds: 0,
        untrusted: 0,
        summary: 'skipped: the last wave leaves no instance on live to compare with (health gate only)',
      });
      return undefined;
    }
    const group = {
      candidates: candidates.slice(-FLEET_SHARD_SIZE),
      baseline: stillOnLive.slice(-FLEET_SHARD_SIZE),
    };
    deps.report(
      wave,
      waveCanary(
        { verdict: 'measuring', candidate: none, baseline: none, extraBakeSeconds: 0, untrusted: 0 },
        deps.versions,
      ),
    );
    try {
      return { wave, ...group, start: await this.snapshot(group.candidates, group.baseline) };
    } catch (error) {
      const failure = failClosed(wave, error);
      return { wave, ...group, start: { candidates: [], baseline: [] }, failure };
    }
  }

  async judge(window: CanaryWindow | undefined): Promise<string | undefined> {
    if (!window) return undefined;
    const { wave, failure } = window;
    if (failure) return failure;
    const { deps, settings } = this;
    const { versions } = deps;
    for (let extraBakeSeconds = 0; ; ) {
      let end: Snapshot;
      try {
        end = await this.snapshot(window.candidates, window.baseline);
      } catch (error) {
        return failClosed(wave, error);
      }
      const candidate = windowTally(window.start.candidates, end.candidates, versions.candidate);
      const baseline = windowTally(window.start.baseline, end.baseline, versions.live ?? 0);
      const verdict = canaryVerdict(candidate.tally, baseline.tally, settings);
      const measured = {
        candidate: candidate.tally,
        baseline: baseline.tally,
        extraBakeSeconds,
        untrusted: candidate.untrusted.length + baseline.untrusted.length,
      };
      if (verdict.kind !== 'insufficient') {
        const analysis = waveCanary(
          { verdict: verdict.kind, ...measured, z: verdict.z, threshold: verdict.threshold },
          versions,
        );
        deps.report(wave, analysis);
        return verdict.kind === 'regressed'
          ? `canary analysis at wave ${wave + 1}: ${analysis.summary}`
          : undefined;
      }
      // With no instance left on live (a single wave), waiting longer cannot bring a baseline.
      const step =
        window.baseline.length > 0 ? extraBakeStep(this.bakeSeconds, extraBakeSeconds, settings) : 0;
      if (step === 0 || deps.interrupted()) {
        const analysis = waveCanary({ verdict: 'insufficient', ...measured }, versions);
        deps.report(wave, analysis);
        if (deps.interrupted() || settings.onInsufficientSamples === 'pass') return undefined;
        return (
          `canary analysis at wave ${wave + 1}: too few samples (${settings.minSamples} requests per group needed` +
          `${window.baseline.length === 0 ? '; no instance stays on live to compare with' : ''}), and the plan fails closed: ${analysis.summary}`
        );
      }
      deps.report(wave, waveCanary({ verdict: 'measuring', ...measured }, versions));
      await condition(deps.interrupted, step * 1000);
      extraBakeSeconds += step;
    }
  }

  private async snapshot(
    candidates: readonly ServiceInstance[],
    baseline: readonly ServiceInstance[],
  ): Promise<Snapshot> {
    const { request, settings } = this.deps;
    const sample = async (instances: readonly ServiceInstance[]) =>
      instances.length === 0
        ? []
        : (await snapshots.sampleOutcomes({ instances, request, settings })).samples;
    const [candidateSamples, baselineSamples] = await Promise.all([sample(candidates), sample(baseline)]);
    return { candidates: candidateSamples, baseline: baselineSamples };
  }
}

function failClosed(wave: number, error: unknown): string {
  if (isCancellation(error)) throw error;
  const cause = (error as { cause?: unknown }).cause ?? error;
  return (
    `canary analysis at wave ${wave + 1} could not ask the instances what they recorded ` +
    `(${cause instanceof Error ? cause.message : String(cause)}); it fails closed`
  );
}
