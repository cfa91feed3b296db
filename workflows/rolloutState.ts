import { upsertMemo, upsertSearchAttributes } from '@temporalio/workflow';
import type { FleetOutcome } from '../activities/refresh/refreshPusher';
import type { VersionRef } from '../activities/rolloutActivities';
import { instanceRef, type ServiceInstance } from '../common/cloudMap';
import type {
  ActorInput,
  AuditEntry,
  PublishedProgress,
  PushSettings,
  RolloutHold,
  RolloutProgress,
  RolloutRequest,
  RolloutState,
  WaveProgress,
} from '../common/rollout';
import { DEFAULT_MAX_PAUSE_SECONDS, DEFAULT_PUSH_SETTINGS, PROGRESS_MEMO } from '../common/rollout';
import { CONFIG_KEY, ROLLOUT_STATE, TENANT_ID } from '../common/searchAttributes';
import type { FreezeGateHooks } from './freezeGate';

const TERMINAL: readonly RolloutState[] = ['SUCCEEDED', 'ROLLED_BACK', 'FAILED'];
const MAX_AUDIT_ENTRIES = 200;
export const MAX_REPORTED_FAILURES = 100;

/** The patches a run decided at its start: they shape the whole run, so each is read once. */
export interface RunPatches {
  /** Runs that started before holds were bounded keep the limits (and the unbounded waits) they had. */
  readonly boundedHolds: boolean;
  readonly publishesProgress: boolean;
  /** Runs that started before it fail on an error as they did, with the candidate left where it was pushed. */
  readonly rollBackOnAnyFailure: boolean;
}

/**
 * One rollout's state: what the progress query answers, what steering changes, and what is published
 * where a read needs no worker (the rollout-state search attribute and the progress memo).
 */
export class Rollout {
  state: RolloutState = 'PREPARING';
  paused = false;
  abortedBy: ActorInput | undefined;
  waves: WaveProgress[] = [];
  currentWave = 0;
  total = 0;
  /** Known once prepared; read by the progress query before that. */
  readonly versions: { candidate?: VersionRef; previous?: VersionRef; copyOf?: number } = {};
  outcome: string | undefined;
  /** While an approval is awaited (patch approval-timeout): when it expires. */
  awaitedUntil: string | undefined;
  readonly updated = new Set<string>();
  readonly failures = new Map<string, string>();
  /**
   * Sent the candidate, then confirmed back on the previous version by the rollback; one that failed the
   * candidate first stays in `failures` too, with its reason.
   */
  readonly reverted = new Set<string>();
  /** Pooled instances already unhealthy for this key before the candidate reached them. */
  readonly unhealthyBefore = new Set<string>();
  readonly approvedWaves = new Set<number>();
  hold: RolloutHold | undefined;
  private readonly audit: AuditEntry[];
  private lastPublished = '';

  constructor(
    readonly request: RolloutRequest,
    readonly patches: RunPatches,
    /** The run's id: every payload carries it, so an instance can tell a rollout's pushes apart. */
    readonly runId: string,
  ) {
    this.audit = [{ at: now(), actor: request.actor, action: 'start' }];
  }

  get settings(): PushSettings {
    return this.request.plan.push ?? DEFAULT_PUSH_SETTINGS;
  }

  get maxPauseSeconds(): number {
    return this.request.plan.maxPauseSeconds ?? DEFAULT_MAX_PAUSE_SECONDS;
  }

  get aborted(): boolean {
    return this.abortedBy !== undefined;
  }

  progress(): RolloutProgress {
    const { request, versions, updated, failures, reverted } = this;
    return {
      state: this.state,
      change: request.change.kind,
      tenantId: request.tenantId,
      key: request.key,
      ...(request.service ? { service: request.service } : {}),
      // A rollout of an existing version knows its candidate from the start, before it is prepared.
      ...(versions.candidate || request.change.kind === 'existing'
        ? { candidateVersion: versions.candidate?.version ?? (request.change as { version: number }).version }
        : {}),
      ...(versions.copyOf ? { copyOf: versions.copyOf } : {}),
      ...(versions.previous ? { previousVersion: versions.previous.version } : {}),
      currentWave: this.currentWave,
      waves: this.waves,
      instances: {
        total: this.total,
        updated: updated.size,
        failed: failures.size,
        // An instance may have failed the candidate and been reverted since: it counts once.
        pending: Math.max(0, this.total - new Set([...updated, ...failures.keys(), ...reverted]).size),
        reverted: reverted.size,
      },
      failedInstances: [...failures]
        .slice(0, MAX_REPORTED_FAILURES)
        .map(([instanceId, reason]) => ({ instanceId, reason })),
      paused: this.paused,
      ...(this.awaitedUntil ? { approvalDeadline: this.awaitedUntil } : {}),
      ...(this.outcome ? { outcome: this.outcome } : {}),
      audit: this.audit,
      ...(this.hold ? { hold: this.hold } : {}),
    };
  }

  record(action: AuditEntry['action'], input: ActorInput): void {
    this.audit.push({
      at: now(),
      actor: input.actor,
      action,
      ...(input.reason ? { reason: input.reason } : {}),
    });
    if (this.audit.length > MAX_AUDIT_ENTRIES) this.audit.splice(1, 1);
  }

  /** The search attributes a list of rollouts filters on, set as the run starts. */
  announce(): void {
    upsertSearchAttributes([
      { key: TENANT_ID, value: this.request.tenantId },
      { key: CONFIG_KEY, value: this.request.key },
      { key: ROLLOUT_STATE, value: this.state },
    ]);
  }

  /**
   * Publishes progress where a read needs no worker (the memo): at every change an operator would see,
   * so a query that no worker answers falls back to what the workflow last said, and a finished rollout
   * answers from it. Unchanged progress is not published again (each upsert is a history event).
   */
  publish(): void {
    if (!this.patches.publishesProgress) return;
    const current = this.progress();
    const serialized = JSON.stringify(current);
    if (serialized === this.lastPublished) return;
    this.lastPublished = serialized;
    const published: PublishedProgress = { ...current, publishedAt: now() };
    upsertMemo({ [PROGRESS_MEMO]: published });
  }

  enter(next: RolloutState): void {
    this.state = next;
    upsertSearchAttributes([{ key: ROLLOUT_STATE, value: next }]);
    this.publish();
  }

  setWave(index: number, change: Partial<WaveProgress>): void {
    this.waves = this.waves.map((wave) => (wave.index === index ? { ...wave, ...change } : wave));
    this.publish();
  }

  /** A steering action's precondition: nothing steers a rollout that is over or rolling back. */
  assertActive(action: string): void {
    if (TERMINAL.includes(this.state) || this.state === 'ROLLING_BACK')
      throw new Error(`cannot ${action}: rollout is ${this.state}`);
  }

  /** Counts a fleet call's answers: who holds the candidate now, who failed it and why. */
  tally(result: FleetOutcome): void {
    for (const ref of result.unhealthyBefore ?? []) this.unhealthyBefore.add(ref);
    for (const ref of result.succeeded) this.updated.add(ref);
    for (const { instance, reason } of result.failed) {
      this.updated.delete(instance);
      this.failures.set(instance, reason);
    }
  }

  waveCounts(batch: readonly ServiceInstance[]): Pick<WaveProgress, 'updated' | 'failed'> {
    const refs = batch.map(instanceRef);
    return {
      updated: refs.filter((ref) => this.updated.has(ref)).length,
      failed: refs.filter((ref) => this.failures.has(ref)).length,
    };
  }

  /** How the freeze gate shows a hold (state PAUSED) and audits freezes on this rollout. */
  freezeHooks(): FreezeGateHooks {
    return {
      tenantId: this.request.tenantId,
      hold: (next) => {
        this.hold = next;
        if (next && this.state !== 'PAUSED') this.enter('PAUSED');
        else this.publish();
      },
      audit: (action, actor, reason) => this.record(action, { actor, reason }),
      aborted: () => this.aborted,
    };
  }
}

/** Workflow time: deterministic on replay. */
function now(): string {
  return new Date().toISOString();
}
