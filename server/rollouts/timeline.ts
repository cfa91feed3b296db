import type { temporal } from '@temporalio/proto';
import {
  type ActorInput,
  PROGRESS_MEMO,
  type RolloutHold,
  type RolloutProgress,
  type RolloutRequest,
  type RolloutResult,
} from '../../common/rollout';
import type { TimelineEntry } from '../../common/api/rollouts';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

interface ScheduledFleetActivity {
  readonly type: 'pushToInstances' | 'checkInstances';
  readonly instances: number;
  readonly version?: number;
  readonly revertFrom?: number;
  readonly expectedVersion?: number;
}

/**
 * A rollout's timeline for people, read from its workflow history: who started it and with what, each
 * state it entered, each wave's push and health check with counts, bakes, who approved, paused,
 * resumed or aborted, and how it ended. Built from history alone, so it is right for finished rollouts
 * and needs no worker.
 */
export function timelineOf(events: readonly HistoryEvent[]): TimelineEntry[] {
  const timeline: TimelineEntry[] = [];
  const scheduled = new Map<string, ScheduledFleetActivity>();
  const alarmLooks = new Map<string, 'watchAlarms' | 'checkAlarms'>();
  let state: string | undefined;
  let hold: RolloutHold | undefined;
  /** Each wave's canary summary last shown, so an unchanged analysis is not repeated. */
  const canarySeen = new Map<number, string>();
  for (const event of events) {
    const at = timeOf(event);
    const started = event.workflowExecutionStartedEventAttributes;
    if (started) {
      const [request] = decodePayloads<RolloutRequest>(started.input?.payloads);
      if (request) {
        const change =
          request.change.kind === 'set'
            ? 'a new value'
            : request.change.kind === 'remove'
              ? 'the removal'
              : `existing version ${request.change.version}`;
        timeline.push({
          at,
          kind: 'started',
          actor: request.actor,
          summary:
            `${request.actor} started a rollout of ${change} of ${request.key} to ${request.targetServices.join(', ')}` +
            (request.allowShapeChange ? ", confirming a change of shape past the plan's shape guard" : ''),
        });
      }
    }
    const upsert =
      event.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields?.RolloutState;
    if (upsert) {
      [state] = decodePayloads<string>([upsert]);
      if (state && state !== 'PREPARING')
        timeline.push({ at, kind: 'state', state, summary: `entered ${state}` });
    }
    const activity = event.activityTaskScheduledEventAttributes;
    if (activity && event.eventId !== undefined && event.eventId !== null) {
      const type = activity.activityType?.name;
      if (type === 'watchAlarms' || type === 'checkAlarms') alarmLooks.set(String(event.eventId), type);
      if (type === 'pushToInstances' || type === 'checkInstances') {
        const [input] = decodePayloads<{
          instances: unknown[];
          payload?: { version: number; revertFrom?: number };
          expectedVersion?: number;
        }>(activity.input?.payloads);
        scheduled.set(String(event.eventId), {
          type,
          instances: input?.instances.length ?? 0,
          version: input?.payload?.version,
          revertFrom: input?.payload?.revertFrom,
          expectedVersion: input?.expectedVersion,
        });
      }
    }
    const completed = event.activityTaskCompletedEventAttributes;
    const fleetActivity = completed && scheduled.get(String(completed.scheduledEventId));
    if (completed && fleetActivity) {
      const [outcome] = decodePayloads<{ succeeded: string[]; failed: unknown[] }>(
        completed.result?.payloads,
      );
      timeline.push(
        fleetEntry(at, fleetActivity, outcome?.succeeded.length ?? 0, outcome?.failed.length ?? 0),
      );
    }
    // Freezes and change windows: a hold is published with the progress; its timers are no bake.
    const published = event.workflowPropertiesModifiedEventAttributes?.upsertedMemo?.fields?.[PROGRESS_MEMO];
    if (published) {
      const next = decodePayloads<RolloutProgress>([published])[0]?.hold;
      if (JSON.stringify(next) !== JSON.stringify(hold)) timeline.push(holdEntry(at, next));
      hold = next;
    }
    const alarmLook = completed && alarmLooks.get(String(completed.scheduledEventId));
    if (completed && alarmLook) timeline.push(alarmGateEntry(at, alarmLook, completed.result?.payloads));
    const timer = event.timerStartedEventAttributes;
    if (timer && state === 'PAUSED' && hold) {
      const seconds = Number(timer.startToFireTimeout?.seconds ?? 0);
      timeline.push({
        at,
        kind: 'wait',
        summary:
          hold.gate === 'freeze'
            ? `frozen: reading the freeze again in ${seconds} s (or when it changes)`
            : `waiting ${seconds} s for the change window opening at ${hold.until}`,
      });
    } else if (timer) {
      const seconds = Number(timer.startToFireTimeout?.seconds ?? 0);
      timeline.push(timerEntry(at, state, seconds));
    }
    // The requester's identity is a Temporal client's (a host and process): not for tenant users.
    if (event.workflowExecutionCancelRequestedEventAttributes)
      timeline.push({ at, kind: 'action', summary: 'cancellation requested in Temporal: rolling back' });
    const update = event.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input;
    if (update?.name) {
      const [input] = decodePayloads<ActorInput>(update.args?.payloads);
      timeline.push({
        at,
        kind: 'action',
        actor: input?.actor,
        summary: `${input?.actor ?? 'someone'} asked to ${update.name}${input?.reason ? `: ${input.reason}` : ''}`,
      });
    }
    // Canary analysis gate (issue 11): the analysis lives in the published progress, not in an activity.
    const memo = event.workflowPropertiesModifiedEventAttributes?.upsertedMemo?.fields?.[PROGRESS_MEMO];
    if (memo) timeline.push(...canaryEntries(at, decodePayloads<RolloutProgress>([memo])[0], canarySeen));
    const finished = finishedEntry(at, event);
    if (finished) timeline.push(finished);
  }
  return timeline;
}

function holdEntry(at: string, hold: RolloutHold | undefined): TimelineEntry {
  if (!hold) return { at, kind: 'action', summary: 'no longer held: going on' };
  return hold.gate === 'freeze'
    ? {
        at,
        kind: 'action',
        actor: hold.frozenBy,
        summary: `held by a ${hold.scope} freeze (${hold.frozenBy}, ${hold.frozenAt}): ${hold.reason}`,
      }
    : { at, kind: 'wait', summary: `outside the change windows: held until ${hold.until}` };
}

/** A timer, by the state that set it: a bake, or the bound of a wait (with its deadline). */
function timerEntry(at: string, state: string | undefined, seconds: number): TimelineEntry {
  const until = new Date(Date.parse(at) + seconds * 1000).toISOString();
  switch (state) {
    // A rollback's timers are the pauses before it pushes the revert again to who did not confirm it.
    case 'ROLLING_BACK':
      return {
        at,
        kind: 'wait',
        summary: `retrying the revert in ${seconds} s: instance(s) did not confirm it`,
      };
    case 'AWAITING_APPROVAL':
      return {
        at,
        kind: 'wait',
        summary: `waiting for approval until ${until} (${seconds} s), then rolling back`,
      };
    case 'PAUSED':
      return {
        at,
        kind: 'wait',
        summary: `paused, at most until ${until} (${seconds} s), then rolling back`,
      };
    default:
      return { at, kind: 'bake', summary: `baking for ${seconds} s` };
  }
}

/**
 * A wave's canary analysis each time it changed: a verdict, or a bake extended for samples (its
 * opening, still without figures, is left out).
 */
function canaryEntries(
  at: string,
  progress: RolloutProgress | undefined,
  seen: Map<number, string>,
): TimelineEntry[] {
  const entries: TimelineEntry[] = [];
  for (const { index, canary } of progress?.waves ?? []) {
    if (!canary || seen.get(index) === canary.summary) continue;
    seen.set(index, canary.summary);
    if (canary.verdict === 'measuring' && canary.extraBakeSeconds === 0) continue;
    entries.push({ at, kind: 'canary', summary: `wave ${index + 1} ${canary.summary}` });
  }
  return entries;
}

function fleetEntry(
  at: string,
  activity: ScheduledFleetActivity,
  succeeded: number,
  failed: number,
): TimelineEntry {
  const counts = `${succeeded} ok, ${failed} failed`;
  if (activity.type === 'checkInstances') {
    return {
      at,
      kind: 'health',
      succeeded,
      failed,
      summary: `health check of ${activity.instances} instance(s) on version ${activity.expectedVersion}: ${counts}`,
    };
  }
  const what =
    activity.revertFrom !== undefined
      ? `rolled back version ${activity.revertFrom} to ${activity.version === 0 ? 'nothing (new key)' : `version ${activity.version}`}`
      : `pushed version ${activity.version}`;
  return {
    at,
    kind: 'push',
    succeeded,
    failed,
    summary: `${what} to ${activity.instances} instance(s): ${counts}`,
  };
}

/** Alarm gate: a watch answers only when an alarm tripped it; the last look of a bake answers either way. */
function alarmGateEntry(
  at: string,
  type: 'watchAlarms' | 'checkAlarms',
  payloads: readonly temporal.api.common.v1.IPayload[] | null | undefined,
): TimelineEntry {
  const [trip] = decodePayloads<{ reason: string }>(payloads);
  if (trip?.reason) return { at, kind: 'gate', summary: `alarm gate failed: ${trip.reason}` };
  return {
    at,
    kind: 'gate',
    summary:
      type === 'checkAlarms'
        ? "alarm gate passed: no alarm in ALARM during the wave's push and bake"
        : 'alarm gate: the watch ended',
  };
}

function finishedEntry(at: string, event: HistoryEvent): TimelineEntry | undefined {
  const completed = event.workflowExecutionCompletedEventAttributes;
  if (completed) {
    const [result] = decodePayloads<RolloutResult>(completed.result?.payloads);
    return {
      at,
      kind: 'finished',
      state: result?.state,
      summary:
        result?.state === 'SUCCEEDED'
          ? `version ${result.candidateVersion} is live on ${result.updatedInstances} instance(s)`
          : `rolled back: ${result?.reason ?? 'unknown reason'}`,
    };
  }
  const failure =
    event.workflowExecutionFailedEventAttributes?.failure?.message ??
    (event.workflowExecutionTerminatedEventAttributes
      ? `terminated: ${event.workflowExecutionTerminatedEventAttributes.reason ?? ''}`
      : undefined) ??
    (event.workflowExecutionTimedOutEventAttributes ? 'timed out' : undefined);
  return failure === undefined
    ? undefined
    : { at, kind: 'finished', state: 'FAILED', summary: `failed: ${failure}` };
}

function timeOf(event: HistoryEvent): string {
  const seconds = Number(event.eventTime?.seconds ?? 0);
  const nanos = event.eventTime?.nanos ?? 0;
  return new Date(seconds * 1000 + Math.floor(nanos / 1e6)).toISOString();
}

/** History payloads are the default converter's JSON; anything else is skipped, not guessed at. */
function decodePayloads<T>(
  payloads: readonly temporal.api.common.v1.IPayload[] | null | undefined,
): (T | undefined)[] {
  return (payloads ?? []).map((payload) => {
    const encoding = payload.metadata?.encoding ? Buffer.from(payload.metadata.encoding).toString() : '';
    if (encoding !== 'json/plain' || !payload.data) return undefined;
    try {
      return JSON.parse(Buffer.from(payload.data).toString('utf8')) as T;
    } catch {
      return undefined;
    }
  });
}
