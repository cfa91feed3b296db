import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { RefreshPayload } from '../../activities/refresh/refreshPusher';
import type { RolloutActivities, VersionRef } from '../../activities/rolloutActivities';
import { instanceRef, type ServiceInstance } from '../../common/cloudMap';
import type { RolloutGates } from '../../common/freezes';
import { FLEET_SHARD_SIZE } from '../../common/rollout';

/**
 * An in-memory fleet and store behind the rollout's activity interface, for the workflow-logic tests.
 * Instances follow the CacheRefresh rules (newer versions apply; a revert applies only over the version
 * it reverts), so the tests can assert where every instance ends up.
 */
export class FakeFleet {
  readonly pushes: { refs: string[]; version: number; revertFrom?: number; removed?: boolean }[] = [];
  /** The instances of each health-check activity, by reference. */
  readonly checks: string[][] = [];
  /** The size of each discovery activity's answer (a page, or a whole fleet). */
  readonly discoveryAnswers: number[] = [];
  readonly promoted: number[] = [];
  readonly written: string[] = [];
  promotedAfterPushes = 0;
  /** The freezes and change windows the store holds now: a test freezes and lifts them. */
  gates: RolloutGates = {};
  /** Reads of the gates by the wave boundaries after the first (the prepare reads the first's). */
  gateReads = 0;
  removed = false;
  /** Read-cache notices, in order: the version each told the replicas of, and after how many pushes. */
  readonly notices: { version: number; removed: boolean; afterPushes: number }[] = [];
  /** Alarm gate: each watch's wave start, and each last look's, in order. */
  readonly alarmWatches: string[] = [];
  readonly alarmLooks: string[] = [];
  private readonly instances: ServiceInstance[];
  private readonly late: ServiceInstance[];
  private readonly later: ServiceInstance[];
  private readonly held = new Map<string, number>();
  private readonly live?: VersionRef;
  private discoveries = 0;
  /** The fleet the pages of the current discovery come from. */
  private discovered: ServiceInstance[] = [];
  private liveVersion?: number;
  private readonly unansweredReverts = new Map<string, number>();
  /** Per instance: what its application recorded for the version it holds. */
  private readonly recordedCounts = new Map<string, { version: number; requests: number; errors: number }>();
  /** The instances of each outcome snapshot, by reference. */
  readonly outcomeSnapshots: string[][] = [];

  constructor(
    size: number,
    private readonly options: {
      liveVersion?: number;
      zones?: string[];
      failingPushes?: string[];
      unhealthyOnCandidate?: string[];
      joinsLater?: number;
      /** Instances that register only after the first sweep, while cached reads may be stale. */
      joinsAfterSweep?: number;
      /** What a promotion answers: how long the config service's read caches may serve the old state. */
      readCachesExpireInMs?: number;
      /**
       * The promotion fails (a non-retryable error that is no VersionConflict); with `afterPromoting`,
       * after making the candidate live (its answer lost).
       */
      promoteFails?: 'before-promoting' | 'after-promoting';
      /** The health check fails as an activity (not per instance), non-retryably. */
      checkFails?: boolean;
      /** Discovery fails once the candidate is live (the sweep's discovery). */
      sweepFails?: boolean;
      /** Candidate pushes that carry this instance fail for good (a shard lost), the candidate unapplied. */
      failingShard?: string;
      /** Instances that answer no revert for this many passes, then apply it. */
      revertsUnanswered?: { refs: string[]; passes: number };
      /**
       * How the config service's replicas answer a promotion's notice: `all` acknowledge, `one-silent`
       * leaves one unacknowledged, `fails` the activity itself fails. Without it, no replica is found.
       */
      readCaches?: 'all' | 'one-silent' | 'fails';
      /**
       * Alarm gate: `fires-in-wave` N (1-based): that wave's watch answers a trip at once; `fires-at-look`:
       * the watches stay quiet and the first last look finds an alarm that went off since the last poll;
       * `unreachable`: CloudWatch never answers (each watch attempt fails, retryably). Otherwise quiet.
       */
      alarm?: { firesInWave: number } | 'fires-at-look' | 'unreachable';
      /**
       * What the instances' applications record (SDK `record`): each outcome snapshot adds `perSnapshot`
       * requests to every instance asked, failing at `candidateErrorRatio` on the candidate and
       * `liveErrorRatio` on any other version; `sampleFails` makes the snapshot activity fail for good.
       */
      recorded?: {
        perSnapshot: number;
        candidateErrorRatio: number;
        liveErrorRatio: number;
        sampleFails?: boolean;
      };
    } = {},
  ) {
    const make = (n: number): ServiceInstance => ({
      instanceId: `i-${String(n).padStart(2, '0')}`,
      service: 'orders',
      address: '127.0.0.1',
      port: 9000 + n,
      tenancy: 'pool',
      sealingKey: `sealing-key-${n}`,
      ...(options.zones ? { zone: options.zones[(n - 1) % options.zones.length] } : {}),
    });
    this.instances = Array.from({ length: size }, (_, i) => make(i + 1));
    this.late = Array.from({ length: options.joinsLater ?? 0 }, (_, i) => make(size + i + 1));
    this.later = Array.from({ length: options.joinsAfterSweep ?? 0 }, (_, i) =>
      make(size + this.late.length + i + 1),
    );
    if (options.liveVersion) {
      this.live = { version: options.liveVersion, value: '{"beta":false}', format: 'json' };
      for (const instance of [...this.instances, ...this.late, ...this.later])
        this.held.set(instanceRef(instance), options.liveVersion);
    }
  }

  heldVersions(): number[] {
    return [...this.instances, ...this.late, ...this.later].map(
      (instance) => this.held.get(instanceRef(instance)) ?? 0,
    );
  }

  zoneOf(ref: string): string | undefined {
    return this.instances.find((instance) => instanceRef(instance) === ref)?.zone;
  }

  activities(): RolloutActivities {
    const candidateVersion = (this.live?.version ?? 0) + 1;
    return {
      prepareRollout: async () => ({ ...(this.live ? { previous: this.live } : {}), gates: this.gates }),
      readRolloutGates: async () => {
        this.gateReads += 1;
        return this.gates;
      },
      writeCandidate: async ({ value }) => {
        this.written.push(value);
        return { version: candidateVersion, value, format: 'json' };
      },
      removeKey: async () => {
        this.removed = true;
        this.promotedAfterPushes = this.pushes.length;
        return { readCachesExpireInMs: this.options.readCachesExpireInMs ?? 0 };
      },
      promoteCandidate: async ({ version }) => {
        if (this.options.promoteFails === 'before-promoting') throw fault('the table refused the update');
        this.promoted.push(version);
        this.liveVersion = version;
        if (this.options.promoteFails === 'after-promoting') throw fault('the answer was lost');
        this.promotedAfterPushes = this.pushes.length;
        return { readCachesExpireInMs: this.options.readCachesExpireInMs ?? 0 };
      },
      confirmLive: async ({ version }) =>
        (this.liveVersion ?? this.live?.version ?? 0) === version
          ? { readCachesExpireInMs: this.options.readCachesExpireInMs ?? 0 }
          : undefined,
      noticeReadCaches: async ({ version, removed }) => {
        this.notices.push({ version, removed, afterPushes: this.pushes.length });
        const answer = this.options.readCaches;
        if (answer === 'fails') throw fault('Cloud Map is down');
        const replicas = answer ? 2 : 0;
        const failed =
          answer === 'one-silent' ? [{ instance: 'replica-2', reason: 'DEADLINE_EXCEEDED' }] : [];
        return {
          replicas,
          acknowledged: replicas - failed.length,
          refused: 0,
          failed,
          settled: answer === 'all',
        };
      },
      discoverInstances: async () => {
        const fleet = this.discover();
        this.discoveryAnswers.push(fleet.length);
        return fleet;
      },
      // Pages by offset (the cursor's count of instances found so far), as Cloud Map's cursor would.
      discoverInstancePage: async ({ cursor }) => {
        const fleet = cursor ? this.discovered : (this.discovered = this.discover());
        const from = cursor?.found ?? 0;
        const instances = fleet.slice(from, from + FLEET_SHARD_SIZE);
        this.discoveryAnswers.push(instances.length);
        const found = from + instances.length;
        return found < fleet.length
          ? { instances, next: { service: 0, found, listed: found } }
          : { instances };
      },
      pushToInstances: async ({ instances, payload }) => {
        const refs = instances.map(instanceRef);
        const candidate = payload.revertFrom === undefined;
        if (candidate && this.options.failingShard && refs.includes(this.options.failingShard))
          throw fault('the worker lost its shard');
        this.pushes.push({
          refs,
          version: payload.version,
          ...(payload.revertFrom !== undefined ? { revertFrom: payload.revertFrom } : {}),
          ...(payload.removed ? { removed: true } : {}),
        });
        const failing = new Set(this.options.failingPushes ?? []);
        if (payload.revertFrom !== undefined || payload.version === this.live?.version) {
          for (const ref of (this.options.revertsUnanswered?.refs ?? []).filter((r) => refs.includes(r))) {
            const passes = (this.unansweredReverts.get(ref) ?? 0) + 1;
            this.unansweredReverts.set(ref, passes);
            if (passes <= (this.options.revertsUnanswered?.passes ?? 0)) failing.add(ref);
          }
        }
        return {
          succeeded: refs.filter((ref) => !failing.has(ref) && this.apply(ref, payload)),
          failed: refs
            .filter((ref) => failing.has(ref))
            .map((instance) => ({ instance, reason: 'UNAVAILABLE: down' })),
        };
      },
      watchAlarms: async ({ since }) => {
        this.alarmWatches.push(since);
        const { alarm } = this.options;
        if (alarm === 'unreachable')
          throw ApplicationFailure.retryable('connect ECONNREFUSED 127.0.0.1:4566');
        if (typeof alarm === 'object' && alarm.firesInWave === this.alarmWatches.length)
          return {
            alarm: 'config-rollouts/t/errors',
            reason: 'alarm config-rollouts/t/errors is in ALARM: errors up',
          };
        // Quiet until the workflow cancels the watch (heartbeats carry the cancellation here).
        for (;;) {
          Context.current().heartbeat();
          await Context.current().sleep(50);
        }
      },
      checkAlarms: async ({ since }) => {
        this.alarmLooks.push(since);
        return this.options.alarm === 'fires-at-look'
          ? {
              alarm: 'config-rollouts/t/errors',
              reason:
                'alarm config-rollouts/t/errors went to ALARM at 2026-01-01T00:00:00.000Z (errors up) and is OK again',
            }
          : undefined;
      },
      sampleOutcomes: async ({ instances }) => this.sampleOutcomes(instances, candidateVersion),
      checkInstances: async ({ instances, expectedVersion }) => {
        this.checks.push(instances.map(instanceRef));
        if (this.options.checkFails) throw fault('the health check crashed');
        const unhealthy = new Set(this.options.unhealthyOnCandidate ?? []);
        const refs = instances.map(instanceRef);
        const fails = (ref: string) => unhealthy.has(ref) || this.held.get(ref) !== expectedVersion;
        return {
          succeeded: refs.filter((ref) => !fails(ref)),
          failed: refs.filter(fails).map((instance) => ({ instance, reason: 'reports NOT_SERVING' })),
        };
      },
    };
  }

  /** Each asked instance records `perSnapshot` more calls on the version it holds, then answers its counters. */
  private sampleOutcomes(instances: readonly ServiceInstance[], candidateVersion: number) {
    const recorded = this.options.recorded;
    this.outcomeSnapshots.push(instances.map(instanceRef));
    if (recorded?.sampleFails) throw fault('Health answered garbage');
    const samples = instances.map((instance) => {
      const ref = instanceRef(instance);
      const version = this.held.get(ref) ?? 0;
      const before = this.recordedCounts.get(ref);
      const counts = before?.version === version ? before : { version, requests: 0, errors: 0 };
      const ratio =
        version === candidateVersion ? (recorded?.candidateErrorRatio ?? 0) : (recorded?.liveErrorRatio ?? 0);
      const per = recorded?.perSnapshot ?? 0;
      const next = {
        version,
        requests: counts.requests + per,
        errors: counts.errors + Math.round(per * ratio),
      };
      this.recordedCounts.set(ref, next);
      return { instance: ref, ...next };
    });
    return { samples, unanswered: 0 };
  }

  /** The fleet as Cloud Map would answer now: late joiners appear on the second and third discovery. */
  private discover(): ServiceInstance[] {
    if (this.options.sweepFails && this.promoted.length > 0) throw fault('Cloud Map is down');
    this.discoveries += 1;
    if (this.discoveries === 1) return this.instances;
    if (this.discoveries === 2) return [...this.instances, ...this.late];
    return [...this.instances, ...this.late, ...this.later];
  }

  private apply(ref: string, payload: RefreshPayload): boolean {
    const held = this.held.get(ref) ?? 0;
    if (payload.revertFrom !== undefined) {
      if (held === payload.revertFrom) this.held.set(ref, payload.removed ? 0 : payload.version);
      return true;
    }
    // Version 0 removed: the key was deleted at its source and the instance forgets it.
    if (payload.removed && payload.version === 0) this.held.set(ref, 0);
    else if (payload.version > held) this.held.set(ref, payload.version);
    return true;
  }
}

/** An activity failure that retrying cannot fix, of a type the workflow has no special case for. */
function fault(message: string): ApplicationFailure {
  return ApplicationFailure.create({ type: 'Internal', message, nonRetryable: true });
}
