import { condition, patched } from '@temporalio/workflow';
import type { FleetOutcome } from '../activities/refresh/refreshPusher';
import { instanceRef, type ServiceInstance } from '../common/cloudMap';
import type { RolloutResult } from '../common/rollout';
import { failureBudget, waveSizes } from '../common/rolloutPlan';
import { type AlarmGate, alarmGate } from './alarmGate';
import {
  APPROVAL_TIMEOUT_ACTOR,
  APPROVAL_TIMEOUT_PATCH,
  approvalDeadline,
  approvalTimedOut,
  approvalTimeoutSecondsOf,
} from './approvalTimeout';
import { type CanaryGate, canaryGate } from './canaryGate';
import { countGate, countWave, recordLastAck } from './rolloutMetrics';
import { budgetMessage, RollbackRequired, rollbackReason } from './failures';
import type { Fleet } from './fleet';
import type { FreezeGate } from './freezeGate';
import { ALARM_GATE, CANARY_ANALYSIS, FREEZES_AND_WINDOWS } from './patches';
import type { Candidate } from './prepare';
import { promote, type Promotion } from './promote';
import { rollBack } from './rollback';
import type { Rollout } from './rolloutState';

/** After the waves: rolled back, or the promotion's answer. */
export type AfterWaves = { readonly rolledBack: RolloutResult } | Promotion;

/**
 * Pushes the candidate wave by wave, then promotes it. At each wave's boundary the freeze gate and a
 * pause hold it; then the push, the bake (watched by the alarm gate), the health check and the canary
 * analysis judge it; an approval holds the next wave. Past the failure budget, on abort or on any error
 * (roll-back-on-any-failure), every instance that got the candidate gets the previous version back.
 *
 * Every await from the first wave to the promotion stays in `run`, and what lies between two awaits is
 * synchronous: a steering update that completes in the same workflow task as a wait it ends (a resume,
 * an abort) keeps its place among the commands that follow, as recorded histories replay it.
 */
export function runWavesThenPromote(
  rollout: Rollout,
  candidate: Candidate,
  fleet: Fleet,
  freezeGate: FreezeGate,
): Promise<AfterWaves> {
  return new Waves(rollout, candidate, fleet, freezeGate).run();
}

interface Approval {
  readonly expires: boolean;
  readonly seconds: number;
  readonly decided: () => boolean;
}

class Waves {
  private readonly sizes: number[];
  private readonly budget: number;
  private readonly alarms: AlarmGate | undefined;
  private readonly canary: CanaryGate | undefined;

  constructor(
    private readonly rollout: Rollout,
    private readonly candidate: Candidate,
    private readonly fleet: Fleet,
    private readonly freezeGate: FreezeGate,
  ) {
    const { request, total } = rollout;
    this.sizes = waveSizes(request.plan.strategy, total);
    this.budget = failureBudget(request.plan.maxFailures, total);
    rollout.waves = this.sizes.map((size, index) => ({
      index,
      targetInstances: size,
      updated: 0,
      failed: 0,
      state: 'pending',
    }));
    // Alarm gate: only a plan naming alarms has one, so only its runs carry the patch's marker.
    this.alarms =
      request.plan.alarms?.length && patched(ALARM_GATE)
        ? alarmGate(request.tenantId, request.plan.alarms)
        : undefined;
    // Only a plan that names the gate calls `patched`: a marker is a command, and other rollouts issue none.
    const { target, previous } = candidate;
    this.canary =
      request.plan.canary && patched(CANARY_ANALYSIS)
        ? canaryGate({
            request,
            canary: request.plan.canary,
            settings: rollout.settings,
            versions: { candidate: target.version, ...(previous ? { live: previous.version } : {}) },
            interrupted: () => rollout.aborted,
            report: (wave, analysis) => rollout.setWave(wave, { canary: analysis }),
          })
        : undefined;
  }

  async run(): Promise<AfterWaves> {
    const { rollout, fleet, alarms, canary } = this;
    const { bakeSeconds } = rollout.request.plan;
    try {
      for (const [index, size] of this.sizes.entries()) {
        rollout.currentWave = index;
        // Once instances hold the candidate, a hold is bounded like a pause.
        if (patched(FREEZES_AND_WINDOWS)) {
          const bound = index > 0 ? rollout.maxPauseSeconds * 1000 : undefined;
          const why = await this.freezeGate.pass(index, this.candidate.prepared.gates, bound);
          countGate('freeze', !why);
          if (why) throw new RollbackRequired(why);
        }
        await checkpoint(rollout);
        const batch = this.startPush(index, size);
        this.pushed(index, batch, await this.pushTo(batch));

        this.startBake(index);
        const canaryWindow = canary
          ? await canary.open(index, this.sizes.length, this.holdingCandidate(), this.stillOnLive())
          : undefined;
        if (bakeSeconds > 0)
          await condition(() => rollout.aborted || alarms?.tripped !== undefined, bakeSeconds * 1000);
        if (alarms && !rollout.aborted) {
          const alarmed = await alarms.end();
          countGate('alarm', !alarmed);
          if (alarmed) throw new RollbackRequired(alarmed);
        }
        await checkpoint(rollout);
        this.checked(index, batch, await fleet.calls.check(this.checkInput()));
        if (canary) {
          const regression = await canary.judge(canaryWindow);
          countGate('canary', !regression);
          if (regression) throw new RollbackRequired(regression);
          await checkpoint(rollout);
        }

        if (this.approvalDue(index)) {
          const approval = this.startApproval(index);
          if (!rollout.patches.boundedHolds) await condition(approval.decided);
          else if (!(await condition(approval.decided, approval.seconds * 1000))) {
            countGate('approval', false);
            throw this.notApproved(index, approval);
          }
          countGate('approval', !rollout.aborted);
          rollout.awaitedUntil = undefined;
          await checkpoint(rollout);
        }
        rollout.setWave(index, { state: 'done' });
        countWave('done');
      }
      await checkpoint(rollout);
    } catch (error) {
      countWave('rolled_back');
      alarms?.stop();
      return { rolledBack: await rollBack(rollout, this.candidate, fleet, rollbackReason(rollout, error)) };
    }
    return promote(rollout, this.candidate);
  }

  private startPush(index: number, size: number): ServiceInstance[] {
    const { rollout, fleet } = this;
    rollout.enter('ROLLING_OUT');
    rollout.setWave(index, { state: 'pushing' });
    this.alarms?.begin(index);
    const batch = fleet.instances.slice(fleet.pushed.length, size);
    fleet.pushed.push(...batch);
    return batch;
  }

  /** The activity's own promise, so awaiting it costs the wave no extra step. */
  private pushTo(batch: ServiceInstance[]): Promise<FleetOutcome> {
    const { payload } = this.candidate;
    return this.fleet.calls.push({ instances: batch, payload, settings: this.rollout.settings });
  }

  private pushed(index: number, batch: readonly ServiceInstance[], outcome: FleetOutcome): void {
    if (index === this.sizes.length - 1) recordLastAck();
    this.tallyWave(index, batch, outcome, 'push');
    if (this.alarms?.tripped) throw new RollbackRequired(this.alarms.tripped);
  }

  private startBake(index: number): void {
    this.rollout.enter('BAKING');
    this.rollout.setWave(index, { state: 'baking' });
  }

  private holdingCandidate(): ServiceInstance[] {
    return this.fleet.pushed.filter((instance) => this.rollout.updated.has(instanceRef(instance)));
  }

  private stillOnLive(): readonly ServiceInstance[] {
    return this.fleet.instances.slice(this.fleet.pushed.length);
  }

  private checkInput() {
    const { rollout } = this;
    const stillUpdated = this.holdingCandidate();
    const { unhealthyBefore } = rollout;
    return {
      instances: stillUpdated,
      request: rollout.request,
      expectedVersion: this.candidate.target.version,
      settings: rollout.settings,
      ...(unhealthyBefore.size > 0
        ? { excused: stillUpdated.map(instanceRef).filter((ref) => unhealthyBefore.has(ref)) }
        : {}),
    };
  }

  private checked(index: number, batch: readonly ServiceInstance[], outcome: FleetOutcome): void {
    const failedBefore = this.rollout.failures.size;
    try {
      this.tallyWave(index, batch, outcome, 'health check');
    } finally {
      countGate('health', this.rollout.failures.size === failedBefore);
    }
  }

  private tallyWave(index: number, batch: readonly ServiceInstance[], outcome: FleetOutcome, stage: string) {
    const { rollout, budget } = this;
    rollout.tally(outcome);
    rollout.setWave(index, rollout.waveCounts(batch));
    const failed = rollout.failures.size;
    if (failed > budget) throw new RollbackRequired(budgetMessage(failed, budget, stage));
  }

  private approvalDue(index: number): boolean {
    const { approval } = this.rollout.request.plan;
    const isLast = index === this.sizes.length - 1;
    return !isLast && (approval === 'every-wave' || (approval === 'after-first-wave' && index === 0));
  }

  private startApproval(index: number): Approval {
    const { rollout } = this;
    // Runs started before approvals expired on their own wait out the plan's bound on holds.
    const expires = rollout.patches.boundedHolds && patched(APPROVAL_TIMEOUT_PATCH);
    const seconds = expires ? approvalTimeoutSecondsOf(rollout.request.plan) : rollout.maxPauseSeconds;
    if (expires) rollout.awaitedUntil = approvalDeadline(seconds);
    rollout.enter('AWAITING_APPROVAL');
    rollout.setWave(index, { state: 'awaiting-approval' });
    return { expires, seconds, decided: () => rollout.approvedWaves.has(index) || rollout.aborted };
  }

  private notApproved(index: number, { expires, seconds }: Approval): RollbackRequired {
    const { rollout } = this;
    rollout.awaitedUntil = undefined;
    if (!expires)
      return new RollbackRequired(`not approved within the plan's bound (${rollout.maxPauseSeconds} s)`);
    const reason = approvalTimedOut(seconds, index, this.sizes.length);
    rollout.record('abort', { actor: APPROVAL_TIMEOUT_ACTOR, reason });
    return new RollbackRequired(reason);
  }
}

/** Waits out a pause; throws to the rollback on abort. */
async function checkpoint(rollout: Rollout): Promise<void> {
  if (rollout.paused && !rollout.aborted) {
    rollout.enter('PAUSED');
    const resumed = () => !rollout.paused || rollout.aborted;
    const { maxPauseSeconds } = rollout;
    // Inline, not behind a helper: an extra await would reorder the commands of runs that replay.
    if (!rollout.patches.boundedHolds) await condition(resumed);
    else if (!(await condition(resumed, maxPauseSeconds * 1000)))
      throw new RollbackRequired(`paused for longer than the plan allows (${maxPauseSeconds} s)`);
  }
  const { abortedBy } = rollout;
  if (abortedBy)
    throw new RollbackRequired(
      `aborted by ${abortedBy.actor}${abortedBy.reason ? `: ${abortedBy.reason}` : ''}`,
    );
}
