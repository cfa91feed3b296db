/**
 * A rollout's history as a timeline: each event's time from the workflow's start (or another instant of
 * the server's clock), with the activity or local activity it concerns. The server stamps every event, so
 * the gaps between them show where a rollout waits: for a worker to poll, for an activity to run, for
 * the next workflow task.
 */
import type { WorkflowHandle } from '@temporalio/client';

export type HistoryEvent = NonNullable<Awaited<ReturnType<WorkflowHandle['fetchHistory']>>['events']>[number];

export interface TimelineRow {
  /** Milliseconds from the reference instant. */
  readonly atMs: number;
  readonly event: string;
  /** The activity's type for activity events, the marker's name for a local activity. */
  readonly detail?: string;
}

/** An event's time in ms since the epoch; seconds may be a protobuf Long, whose decimal string Number() reads. */
export function eventMs(event: HistoryEvent): number {
  const time = event.eventTime;
  return Number(String(time?.seconds ?? 0)) * 1000 + Math.round((time?.nanos ?? 0) / 1e6);
}

/** The events from `fromMs` (epoch ms; default the first event's time). */
export function timelineOf(events: readonly HistoryEvent[], fromMs?: number): TimelineRow[] {
  const origin = fromMs ?? (events[0] ? eventMs(events[0]) : 0);
  const activityTypes = new Map<string, string>();
  return events.map((event) => {
    const scheduled = event.activityTaskScheduledEventAttributes;
    if (scheduled) activityTypes.set(String(event.eventId), scheduled.activityType?.name ?? '?');
    const scheduledId =
      event.activityTaskStartedEventAttributes?.scheduledEventId ??
      event.activityTaskCompletedEventAttributes?.scheduledEventId ??
      event.activityTaskFailedEventAttributes?.scheduledEventId;
    const detail =
      scheduled?.activityType?.name ??
      (scheduledId !== undefined && scheduledId !== null
        ? activityTypes.get(String(scheduledId))
        : undefined) ??
      event.markerRecordedEventAttributes?.markerName ??
      undefined;
    return {
      atMs: eventMs(event) - origin,
      event: eventTypeName(event),
      ...(detail ? { detail } : {}),
    };
  });
}

/** `EVENT_TYPE_ACTIVITY_TASK_SCHEDULED` -> `ActivityTaskScheduled`. */
function eventTypeName(event: HistoryEvent): string {
  const attribute = Object.keys(event).find(
    (name) => name.endsWith('EventAttributes') && (event as Record<string, unknown>)[name],
  );
  if (!attribute) return String(event.eventType);
  const name = attribute.replace(/EventAttributes$/, '');
  return name.charAt(0).toUpperCase() + name.slice(1);
}
