import { CancellationScope, isCancellation, proxyActivities } from '@temporalio/workflow';
import type { AlarmTrip, RolloutActivities } from '../activities/rolloutActivities';
import type { AlarmSelector } from '../common/alarms';
import { activityFailureCause } from './failures';

/**
 * The alarm gate of one rollout: from each wave's start to the end of its bake, one heartbeating
 * activity watches the plan's CloudWatch alarms (polling at the worker's rate, and reading an alarm's
 * history so a trip between two polls counts too); a last look at the end of the bake covers the time
 * since its last poll. One activity per wave and one look, never one per poll: history stays bounded.
 * Fails closed: a watch or a look that cannot reach CloudWatch within its retries fails the gate.
 */
export interface AlarmGate {
  /** Starts watching a wave, from now (workflow time). */
  begin(wave: number): void;
  /** Why the gate failed during the current wave so far, if it did: the bake waits on this too. */
  readonly tripped: string | undefined;
  /** At the end of a wave's bake: stops the watch, takes the last look, and says why the gate failed, if it did. */
  end(): Promise<string | undefined>;
  /** Stops the watch without a look (the rollout is rolling back anyway). */
  stop(): void;
}

/**
 * The watch lives as long as a wave's pushes and its bake (at most an hour), and heartbeats at every
 * poll (at most every 20 s, ALARM_POLL_INTERVAL_MS). CloudWatch unreachable: retried for about 15 s
 * (four pauses of 1 to 8 s, each attempt's calls failing within 5 s), then the gate fails closed.
 */
const watch = proxyActivities<RolloutActivities>({
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '30 seconds',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '8 seconds',
    maximumAttempts: 5,
  },
});
/** The last look is one poll: the same tolerance, in a single short call. */
const look = proxyActivities<RolloutActivities>({
  startToCloseTimeout: '30 seconds',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '8 seconds',
    maximumAttempts: 5,
  },
});

export function alarmGate(tenantId: string, alarms: readonly AlarmSelector[]): AlarmGate {
  let scope: CancellationScope | undefined;
  let since = '';
  let wave = 0;
  let tripped: string | undefined;
  const explain = (trip: AlarmTrip) => `alarm gate, wave ${wave + 1}: ${trip.reason}`;
  const unreachable = (error: unknown) =>
    `alarm gate, wave ${wave + 1}: CloudWatch could not be read (${failureMessage(error)}), so the ` +
    'rollout fails closed';
  const stop = () => {
    scope?.cancel();
    scope = undefined;
  };
  return {
    begin(index) {
      wave = index;
      since = new Date().toISOString();
      tripped = undefined;
      const watching = new CancellationScope();
      scope = watching;
      // A watch answers for its own wave only, even if its answer came after the next began.
      const current = () => scope === watching;
      watching
        .run(() => watch.watchAlarms({ tenantId, alarms, since }))
        .then(
          (trip) => {
            if (current()) tripped ??= explain(trip);
          },
          (error: unknown) => {
            if (current() && !isCancellation(error)) tripped ??= unreachable(error);
          },
        );
    },
    get tripped() {
      return tripped;
    },
    async end() {
      stop();
      if (tripped) return tripped;
      try {
        const trip = await look.checkAlarms({ tenantId, alarms, since });
        return trip ? explain(trip) : undefined;
      } catch (error) {
        if (isCancellation(error)) throw error;
        return unreachable(error);
      }
    },
    stop,
  };
}

function failureMessage(error: unknown): string {
  const { type, message } = activityFailureCause(error);
  return `${type ? `${type}: ` : ''}${message}`;
}
