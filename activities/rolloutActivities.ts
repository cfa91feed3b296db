import { cancellationSignal, heartbeat } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { AlarmSelector } from '../common/alarms';
import type { OutcomeSample } from '../common/canaryAnalysis';
import type { ServiceInstance } from '../common/cloudMap';
import { type ErrorCode, NotFoundError, PlatformError } from '../common/errors';
import type { RolloutGates } from '../common/freezes';
import type { Logger } from '../common/logger';
import { assertShapeWithin } from '../common/shapeGuard';
import { DEFAULT_PUSH_SETTINGS, type PushSettings, type RolloutRequest } from '../common/rollout';
import type { AlarmTrip, AlarmWatch } from './alarms/alarmWatch';
import type { CloudMapDiscovery, DiscoveryCursor, DiscoveryPage } from './discovery/cloudMapDiscovery';
import type { NoticeOutcome, ReadCacheNotifier } from './refresh/readCacheNotifier';
import type { FleetOutcome, RefreshPayload, RefreshPusher } from './refresh/refreshPusher';
import type { ConfigStore } from './storage/configStore';
import type { FreezeStore } from './storage/freezeStore';
import type { ConfigAddress } from '../common/configAddress';

export interface RolloutActivityDeps {
  readonly store: ConfigStore;
  readonly discovery: CloudMapDiscovery;
  readonly pusher: RefreshPusher;
  readonly logger: Logger;
  /** How long the config service may answer reads from its cache (CONFIG_CACHE_TTL_MS). */
  readonly readCacheTtlMs: number;
  /** Tells the config service's replicas of a promotion; without it, rollouts wait their caches out. */
  readonly readCaches?: ReadCacheNotifier;
  /** Freezes and change windows, read at wave boundaries. */
  readonly freezes: Pick<FreezeStore, 'gatesFor'>;
  /** Reads the alarms of alarm-gated plans. */
  readonly alarms: AlarmWatch;
}

/** What telling the read caches came to; `settled` only when every replica is known to have the new state. */
export interface ReadCacheNotices extends NoticeOutcome {
  readonly settled: boolean;
}

/** A read that began before a promotion may fill the cache with the old value a little after it. */
const READ_IN_FLIGHT_MARGIN_MS = 1000;

/** What a promotion (or a removal) answers: when every read path serves the new state. */
export interface LiveChange {
  /** Cached reads may still answer the previous state for this long; 0 when nothing caches. */
  readonly readCachesExpireInMs: number;
  /** A removal that kept a version written while it ran (for that edit's own rollout): that version. */
  readonly keptVersion?: number;
  /** And the version cache-miss reads still get until that rollout ends, if one is live. */
  readonly stillLiveVersion?: number;
}

/** A version as the workflow carries it: enough to push it. */
export interface VersionRef {
  readonly version: number;
  readonly value: string;
  readonly format: string;
}

export interface PreparedRollout {
  /** The live version before the rollout: what a rollback restores. Absent for a new key. */
  readonly previous?: VersionRef;
  /** For a rollout of an existing version: that version. */
  readonly existing?: VersionRef;
  /**
   * A newer version than `existing` was written (and may be held by instances, which never go back to an
   * older one): the rollout writes `existing`'s value as a new version and rolls out that copy.
   */
  readonly rollForward?: boolean;
  /**
   * For a removal: the newest version the store held when it began (live or not), which it removes;
   * null when the store held none (its source had deleted it already).
   */
  readonly newest?: StoredVersion | null;
  /** The freezes and change windows when it was prepared: the first wave's gate, with no call of its own. */
  readonly gates?: RolloutGates;
}

/** A version as the store identifies it: its number, and when it was written (numbers restart after a delete). */
export interface StoredVersion {
  readonly version: number;
  readonly updatedAt: string;
}

/** Retrying cannot fix these: the request itself is wrong, or lost a race the caller must resolve. */
const NON_RETRYABLE: ReadonlySet<ErrorCode> = new Set([
  'InvalidArgument',
  'InvalidKey',
  'UnknownPrefix',
  'ValueTooLarge',
  'InvalidJson',
  'SchemaViolation',
  'SchemaBudgetExceeded',
  'NotFound',
  'VersionConflict',
  'VersionLimitReached',
  'PermissionDenied',
  'Unauthenticated',
  'FleetTooLarge',
  'ShapeChangeRefused',
]);

/**
 * The rollout's activities, built from the clients they need so tests can pass real local clients or
 * fakes. Workflows import only the type of the returned object.
 */
const HEARTBEAT_INTERVAL_MS = 250;

export function createRolloutActivities(deps: RolloutActivityDeps) {
  const { store, discovery, pusher } = deps;
  const liveChange: LiveChange = {
    readCachesExpireInMs: deps.readCacheTtlMs > 0 ? deps.readCacheTtlMs + READ_IN_FLIGHT_MARGIN_MS : 0,
  };

  /** The live version, or undefined where none is live. */
  const liveOrNone = (address: ConfigAddress) =>
    store.getLive(address).catch((error: unknown) => {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    });

  return platformErrorsAsFailures({
    /** Validates the change and reads what a rollback would restore. */
    async prepareRollout(request: RolloutRequest): Promise<PreparedRollout> {
      // Beside the store's reads, not after them: the first wave's gate costs no round trip of its own.
      const gates = deps.freezes.gatesFor(request.tenantId);
      gates.catch(() => undefined);
      const address = addressOf(request);
      // The workflow id is the one-rollout lock: it must name the key as storage does, or a second id
      // (a service added to a tenant-wide key) would be a second lock on the same key. Refused
      // (InvalidArgument, field service) by the address check, before anything is written.
      store.normalize(address);
      if (request.change.kind === 'set') await store.validate(address, request.change.value);
      // An alarm the gate could not find would gate nothing: refused (naming the field) before any write.
      if (request.plan.alarms?.length) await deps.alarms.resolve(request.tenantId, request.plan.alarms);
      const previous = await liveOrNone(address);
      const existing =
        request.change.kind === 'existing'
          ? await store.getVersion(address, request.change.version)
          : undefined;
      // An out-of-band edit is checked as well: a value that breaks its key's schema reaches no instance.
      if (existing) await store.validate(address, existing.value);
      // The API judged the shape already; this catches starts that bypass it (the Lambda's out-of-band
      // edits, a client of Temporal), before the candidate is written or pushed.
      const candidateValue = request.change.kind === 'set' ? request.change.value : existing?.value;
      if (candidateValue !== undefined) {
        assertShapeWithin({
          live: previous,
          candidate: candidateValue,
          setting: request.plan.shapeGuard,
          confirmed: request.allowShapeChange === true,
        });
      }
      const removing = request.change.kind === 'remove';
      const newest = removing || existing ? await store.latest(address) : undefined;
      return {
        ...(previous ? { previous: toRef(previous) } : {}),
        ...(existing ? { existing: toRef(existing) } : {}),
        ...(existing && newest && newest.version > existing.version ? { rollForward: true } : {}),
        ...(removing
          ? { newest: newest ? { version: newest.version, updatedAt: newest.updatedAt } : null }
          : {}),
        gates: await gates,
      };
    },

    /** The freezes and change windows that hold the tenant's rollouts now: a later wave's gate. */
    async readRolloutGates(input: { tenantId: string }): Promise<RolloutGates> {
      return deps.freezes.gatesFor(input.tenantId);
    },

    /**
     * Writes the candidate version, not live. Idempotent: the write id is the rollout's, so a retried
     * activity finds its own earlier write instead of writing a second version.
     */
    async writeCandidate(input: {
      request: RolloutRequest;
      value: string;
      writeId: string;
      /** The older version whose value this is, when a rollout back to it rolls forward to a copy. */
      copyOf?: number;
    }): Promise<VersionRef> {
      const address = addressOf(input.request);
      const latest = await store.latest(address);
      if (latest?.writeId === input.writeId) return toRef(latest);
      const written = await store.put(address, input.value, {
        expectedVersion: latest?.version ?? 0,
        makeLive: false,
        writeId: input.writeId,
        ...(input.copyOf ? { copyOf: input.copyOf } : {}),
      });
      return toRef(written);
    },

    /**
     * The end of a removal: the key leaves the store if its newest version is still the one the removal
     * began with. One written since (or a key its source had deleted already, `removing` null, and that
     * exists again) is kept for its own rollout: the edit's event is retried until this one ends.
     * Without `removing` at all (a run started by older workflow code), the key is deleted, as it was then.
     */
    async removeKey(input: {
      request: RolloutRequest;
      removing?: StoredVersion | null;
    }): Promise<LiveChange> {
      const address = addressOf(input.request);
      const latest = await store.latest(address);
      const removing = input.removing;
      const unchanged =
        removing === undefined ||
        (latest !== undefined &&
          removing !== null &&
          latest.version === removing.version &&
          latest.updatedAt === removing.updatedAt) ||
        // A delete cut short (a crash between its writes) can leave the key served without its newest
        // version: finishing it is what the removal meant.
        (latest === undefined && removing !== null && (await liveOrNone(address)) !== undefined);
      if (unchanged) {
        await store.delete(address).catch((error: unknown) => {
          if (!(error instanceof NotFoundError)) throw error;
        });
      } else if (latest) {
        deps.logger.warn('kept a version written during its removal', {
          tenantId: address.tenantId,
          key: address.key,
          service: address.service,
          version: latest.version,
          removing: removing?.version,
        });
        const stillLive = await liveOrNone(address);
        return {
          ...liveChange,
          keptVersion: latest.version,
          ...(stillLive ? { stillLiveVersion: stillLive.version } : {}),
        };
      }
      return liveChange;
    },

    /**
     * Makes the candidate live: from now on cache-miss reads and new instances get it. Refused
     * (VersionConflict) where a newer version went live meanwhile: live never moves backwards.
     */
    async promoteCandidate(input: { request: RolloutRequest; version: number }): Promise<LiveChange> {
      await store.promote(addressOf(input.request), input.version);
      return liveChange;
    },

    /**
     * After a promotion or removal that failed without an answer: whether it went through anyway, that
     * is whether `version` is live (0: the key is gone). Answers what the promotion would have, or
     * undefined where it did not happen.
     */
    async confirmLive(input: { request: RolloutRequest; version: number }): Promise<LiveChange | undefined> {
      const live = await liveOrNone(addressOf(input.request));
      return (live?.version ?? 0) === input.version ? liveChange : undefined;
    },

    /**
     * After a promotion or removal: tells every config service replica's read cache, so none answers the
     * old state any more. Settled only when replicas were found, every one acknowledged, and no
     * registration under their reserved service was refused: a replica not heard from may still answer
     * the old state until its TTL runs out.
     */
    async noticeReadCaches(input: {
      request: RolloutRequest;
      version: number;
      removed: boolean;
      rolloutId: string;
    }): Promise<ReadCacheNotices> {
      if (!deps.readCaches) return { replicas: 0, acknowledged: 0, refused: 0, failed: [], settled: false };
      const outcome = await deps.readCaches.notify({
        ...addressOf(input.request),
        version: input.version,
        removed: input.removed,
        rolloutId: input.rolloutId,
      });
      const settled =
        outcome.replicas > 0 && outcome.acknowledged === outcome.replicas && outcome.refused === 0;
      return { ...outcome, failed: outcome.failed.slice(0, 20), settled };
    },

    /** The whole fleet in one result: what runs started before discovery was paged still call. */
    async discoverInstances(input: {
      tenantId: string;
      services: readonly string[];
    }): Promise<ServiceInstance[]> {
      return discovery.instancesServing(input.tenantId, input.services);
    },

    /**
     * One page of the fleet (at most FLEET_SHARD_SIZE instances) and the cursor of the next: the workflow
     * gathers the pages, so no payload carries a whole fleet (10,000 instances with their sealing keys
     * are ~2.5 MB, past Temporal's 2 MB limit).
     */
    async discoverInstancePage(input: {
      tenantId: string;
      services: readonly string[];
      cursor?: DiscoveryCursor;
    }): Promise<DiscoveryPage> {
      return discovery.page(input.tenantId, input.services, input.cursor);
    },

    /**
     * One shard of a wave's pushes (at most FLEET_SHARD_SIZE instances; runs started before sharding send
     * a whole wave). Idempotent: an instance answers a repeat of a version it holds as a duplicate, so a
     * shard retried on another worker after a crash applies nothing twice.
     */
    async pushToInstances(input: {
      instances: readonly ServiceInstance[];
      payload: RefreshPayload;
      settings?: PushSettings;
    }): Promise<FleetOutcome> {
      const outcome = await pusher.push(
        input.instances,
        input.payload,
        input.settings ?? DEFAULT_PUSH_SETTINGS,
        progressHeartbeat(),
        cancellationSignal(),
      );
      deps.logger.info('pushed', {
        rolloutId: input.payload.rolloutId,
        tenantId: input.payload.tenantId,
        key: input.payload.key,
        version: input.payload.version,
        revertFrom: input.payload.revertFrom,
        succeeded: outcome.succeeded.length,
        failed: outcome.failed.length,
      });
      return outcome;
    },

    /**
     * Health gate and convergence check: the key SERVING and the expected version held. `excused`:
     * pooled instances that were unhealthy for the tenant's key before the push (pushToInstances'
     * `unhealthyBefore`), which pass on the version alone.
     */
    async checkInstances(input: {
      instances: readonly ServiceInstance[];
      request: RolloutRequest;
      expectedVersion: number;
      settings?: PushSettings;
      excused?: readonly string[];
    }): Promise<FleetOutcome> {
      return pusher.check(
        input.instances,
        addressOf(input.request),
        input.expectedVersion,
        input.settings ?? DEFAULT_PUSH_SETTINGS,
        progressHeartbeat(),
        new Set(input.excused ?? []),
        cancellationSignal(),
      );
    },

    /**
     * Alarm gate: watches the plan's alarms from its wave's start (`since`), polling, until one is or was
     * in ALARM since then (answered) or the workflow cancels the watch at the end of the bake.
     */
    async watchAlarms(input: AlarmGateInput): Promise<AlarmTrip> {
      return deps.alarms.watch(
        input.tenantId,
        input.alarms,
        new Date(input.since),
        () => heartbeat(),
        cancellationSignal(),
      );
    },

    /** Alarm gate: one look at the end of a bake, for what happened since the watch's last poll. */
    async checkAlarms(input: AlarmGateInput): Promise<AlarmTrip | undefined> {
      return deps.alarms.check(input.tenantId, input.alarms, new Date(input.since));
    },

    /**
     * The canary analysis' snapshot of one group (at most FLEET_SHARD_SIZE instances): what each
     * instance's application recorded for the rollout's key, with the version it holds. Only this
     * tenant's key is asked about, so a pooled instance answers nothing of another tenant's.
     */
    async sampleOutcomes(input: {
      instances: readonly ServiceInstance[];
      request: RolloutRequest;
      settings?: PushSettings;
    }): Promise<{ samples: OutcomeSample[]; unanswered: number }> {
      const { samples, failed } = await pusher.outcomes(
        input.instances,
        addressOf(input.request),
        input.settings ?? DEFAULT_PUSH_SETTINGS,
        progressHeartbeat(),
        cancellationSignal(),
      );
      return { samples, unanswered: failed.length };
    },
  });
}

export type { AlarmTrip } from './alarms/alarmWatch';

/** What an alarm gate watches: the tenant's alarms a plan names, from a wave's start (ISO 8601). */
export interface AlarmGateInput {
  readonly tenantId: string;
  readonly alarms: readonly AlarmSelector[];
  readonly since: string;
}

export type RolloutActivities = ReturnType<typeof createRolloutActivities>;

function addressOf(request: RolloutRequest): ConfigAddress {
  return { tenantId: request.tenantId, key: request.key, service: request.service };
}

function toRef(version: { version: number; value: string; format: string }): VersionRef {
  return { version: version.version, value: version.value, format: version.format };
}

/**
 * Platform errors cross into the workflow as ApplicationFailures typed by their code (explicit strings:
 * a bundler may rename classes), non-retryable where retrying cannot help.
 */
function platformErrorsAsFailures<T extends Record<string, (...args: never[]) => Promise<unknown>>>(
  activities: T,
): T {
  return Object.fromEntries(
    Object.entries(activities).map(([name, run]) => [
      name,
      async (...args: never[]) => {
        try {
          return await run(...args);
        } catch (error) {
          if (!(error instanceof PlatformError)) throw error;
          throw ApplicationFailure.create({
            type: error.code,
            message: error.message,
            nonRetryable: NON_RETRYABLE.has(error.code),
            details: error.field ? [{ field: error.field }] : [],
            cause: error,
          });
        }
      },
    ]),
  ) as T;
}

/**
 * Heartbeats at most every HEARTBEAT_INTERVAL_MS: each heartbeat's details are encoded (and encrypted by
 * the payload codec) before the SDK throttles them, so one per instance made a 1,000-instance wave pay
 * for 1,000 encodings. Cancellation still arrives within an interval.
 */
export function progressHeartbeat(): (done: number) => void {
  let last = 0;
  return (done) => {
    const now = Date.now();
    if (now - last < HEARTBEAT_INTERVAL_MS) return;
    last = now;
    heartbeat({ done });
  };
}
