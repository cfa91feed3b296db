import {
  type CloudWatchClient,
  DescribeAlarmHistoryCommand,
  DescribeAlarmsCommand,
} from '@aws-sdk/client-cloudwatch';
import { setTimeout as sleep } from 'node:timers/promises';
import { type AlarmSelector, MAX_ALARMS_PER_PREFIX, tenantAlarmName } from '../../common/alarms';
import { InvalidArgumentError, NotFoundError, PlatformError } from '../../common/errors';
import type { Logger } from '../../common/logger';

/** What failed a gate: the alarm, and CloudWatch's reason (its StateReason) in the gate's words. */
export interface AlarmTrip {
  readonly alarm: string;
  readonly reason: string;
}

/** How a look's CloudWatch calls run: cut short by `signal`, and `beat` after each (a watch's heartbeat). */
interface CallContext {
  readonly signal?: AbortSignal;
  readonly beat?: () => void;
}

interface AlarmState {
  readonly name: string;
  readonly state: string;
  readonly reason: string;
  readonly updatedAt: number;
}

/**
 * One CloudWatch call's deadline: a poll that hangs must fail (and be retried by the activity) well
 * inside the watch's heartbeat timeout.
 */
const CALL_TIMEOUT_MS = 5000;
/** Where the platform-wide alarms come from, named when one is missing. */
const PLATFORM_FIELD = 'ROLLOUT_PLATFORM_ALARMS';
const BOTH_KINDS = ['MetricAlarm', 'CompositeAlarm'] as const;

/**
 * The alarm gate's reads of CloudWatch. A plan's selectors are looked up under the tenant's own
 * namespace only (tenantAlarmName), plus the platform-wide alarms an operator configured; nothing a plan
 * says can reach another tenant's alarms.
 */
export class AlarmWatch {
  constructor(
    private readonly deps: {
      readonly client: CloudWatchClient;
      readonly platformAlarms: readonly string[];
      readonly pollIntervalMs: number;
      readonly logger: Logger;
    },
  ) {}

  /**
   * Every alarm the selectors name, now. A name that is not there, a prefix matching none or more than
   * MAX_ALARMS_PER_PREFIX: an error naming the plan's field (a typo must not switch the gate off).
   */
  async resolve(
    tenantId: string,
    selectors: readonly AlarmSelector[],
    call: CallContext = {},
  ): Promise<AlarmState[]> {
    const named = selectors.flatMap((selector, i) =>
      'name' in selector
        ? [{ field: `plan.alarms[${i}].name`, name: tenantAlarmName(tenantId, selector.name) }]
        : [],
    );
    const wanted = [...named, ...this.deps.platformAlarms.map((name) => ({ field: PLATFORM_FIELD, name }))];
    const found = new Map<string, AlarmState>();
    if (wanted.length > 0) {
      const { alarms } = await this.describe({ AlarmNames: wanted.map(({ name }) => name) }, call);
      for (const alarm of alarms) found.set(alarm.name, alarm);
      for (const { field, name } of wanted) {
        if (!found.has(name))
          throw new NotFoundError(
            `${field}: no alarm ${name}${field === PLATFORM_FIELD ? '' : " (a plan names only its tenant's own alarms)"}`,
            field,
          );
      }
    }
    for (const [i, selector] of selectors.entries()) {
      if (!('prefix' in selector)) continue;
      const field = `plan.alarms[${i}].prefix`;
      const prefix = tenantAlarmName(tenantId, selector.prefix);
      const { alarms: matched, more } = await this.describe(
        { AlarmNamePrefix: prefix, MaxRecords: MAX_ALARMS_PER_PREFIX + 1 },
        call,
      );
      if (matched.length === 0) throw new NotFoundError(`${field}: no alarm starts with ${prefix}`, field);
      if (more || matched.length > MAX_ALARMS_PER_PREFIX)
        throw new InvalidArgumentError(
          `${field}: ${prefix} matches more than ${MAX_ALARMS_PER_PREFIX} alarms; name a narrower prefix`,
          field,
        );
      for (const alarm of matched) found.set(alarm.name, alarm);
    }
    return [...found.values()];
  }

  /**
   * One look: an alarm in ALARM now, or one whose history shows it went to ALARM since `since` (and back
   * before this look). `historyRead` remembers, per alarm, the state update whose history was read, so a
   * watch reads each alarm's history once per change rather than at every poll. A selector that no longer
   * resolves (an alarm deleted, a prefix grown past its bound) fails the gate: it cannot be watched.
   */
  async check(
    tenantId: string,
    selectors: readonly AlarmSelector[],
    since: Date,
    call: CallContext = {},
    historyRead = new Map<string, number>(),
  ): Promise<AlarmTrip | undefined> {
    let alarms: AlarmState[];
    try {
      alarms = await this.resolve(tenantId, selectors, call);
    } catch (error) {
      if (error instanceof PlatformError) return { alarm: error.field ?? 'alarms', reason: error.message };
      throw error;
    }
    const firing = alarms.find((alarm) => alarm.state === 'ALARM');
    if (firing) return { alarm: firing.name, reason: `alarm ${firing.name} is in ALARM: ${firing.reason}` };
    for (const alarm of alarms) {
      if (alarm.updatedAt < since.getTime() || historyRead.get(alarm.name) === alarm.updatedAt) continue;
      const trip = await this.alarmedSince(alarm, since, call);
      if (trip) return trip;
      historyRead.set(alarm.name, alarm.updatedAt);
    }
    return undefined;
  }

  /**
   * Polls until an alarm trips, answering it; ends only by a trip, an error (CloudWatch unreachable: the
   * activity's retries take over) or `signal` (the workflow cancelled the watch at the end of the bake).
   * Heartbeats after every call, so a poll of many selectors stays inside the heartbeat timeout.
   */
  async watch(
    tenantId: string,
    selectors: readonly AlarmSelector[],
    since: Date,
    heartbeat: () => void,
    signal: AbortSignal,
  ): Promise<AlarmTrip> {
    const historyRead = new Map<string, number>();
    for (;;) {
      const trip = await this.check(tenantId, selectors, since, { signal, beat: heartbeat }, historyRead);
      if (trip) {
        this.deps.logger.warn('alarm gate tripped', { tenantId, alarm: trip.alarm, reason: trip.reason });
        return trip;
      }
      await sleep(this.deps.pollIntervalMs, undefined, { signal });
    }
  }

  private async alarmedSince(
    alarm: AlarmState,
    since: Date,
    call: CallContext,
  ): Promise<AlarmTrip | undefined> {
    const { AlarmHistoryItems: items = [] } = await this.deps.client.send(
      new DescribeAlarmHistoryCommand({
        AlarmName: alarm.name,
        HistoryItemType: 'StateUpdate',
        StartDate: since,
        MaxRecords: 100,
      }),
      { abortSignal: callSignal(call.signal) },
    );
    call.beat?.();
    for (const item of items) {
      const newState = parseNewState(item.HistoryData);
      if (newState?.stateValue !== 'ALARM') continue;
      const at = item.Timestamp?.toISOString() ?? 'an unknown time';
      return {
        alarm: alarm.name,
        reason:
          `alarm ${alarm.name} went to ALARM at ${at} (${newState.stateReason ?? item.HistorySummary ?? ''}) ` +
          `and is ${alarm.state} again`,
      };
    }
    return undefined;
  }

  private async describe(
    input: { AlarmNames?: string[]; AlarmNamePrefix?: string; MaxRecords?: number },
    call: CallContext,
  ): Promise<{ alarms: AlarmState[]; more: boolean }> {
    const answer = await this.deps.client.send(
      new DescribeAlarmsCommand({ ...input, AlarmTypes: [...BOTH_KINDS] }),
      { abortSignal: callSignal(call.signal) },
    );
    call.beat?.();
    const alarms = [...(answer.MetricAlarms ?? []), ...(answer.CompositeAlarms ?? [])].map((alarm) => ({
      name: alarm.AlarmName ?? '',
      state: alarm.StateValue ?? 'INSUFFICIENT_DATA',
      reason: alarm.StateReason ?? '',
      updatedAt: alarm.StateUpdatedTimestamp?.getTime() ?? 0,
    }));
    // A next page means more alarms than were asked for: one page is all that is read, so no paginator.
    return { alarms, more: answer.NextToken !== undefined };
  }
}

function callSignal(signal?: AbortSignal): AbortSignal {
  const timeout = AbortSignal.timeout(CALL_TIMEOUT_MS);
  return signal ? AbortSignal.any([signal, timeout]) : timeout;
}

function parseNewState(data: string | undefined): { stateValue?: string; stateReason?: string } | undefined {
  try {
    return (JSON.parse(data ?? '{}') as { newState?: { stateValue?: string; stateReason?: string } })
      .newState;
  } catch {
    return undefined;
  }
}
