import { ApplicationFailure, patched } from '@temporalio/workflow';
import type { RefreshPayload } from '../activities/refresh/refreshPusher';
import type { PreparedRollout, VersionRef } from '../activities/rolloutActivities';
import { localStorage, storage } from './activityGroups';
import { LOCAL_PREPARE_AND_WRITE, ROLL_FORWARD_TO_COPY } from './patches';
import type { Rollout } from './rolloutState';

/** The version a rollout pushes, and what it gives back on a rollback. */
export interface Candidate {
  readonly prepared: PreparedRollout;
  readonly target: VersionRef;
  /** The live version before the rollout; absent for a new key. */
  readonly previous: VersionRef | undefined;
  readonly removal: boolean;
  /** What each wave pushes. */
  readonly payload: RefreshPayload;
}

/** Reads what the rollout starts from (live version, gates) and writes the candidate version. */
export async function prepare(rollout: Rollout): Promise<Candidate> {
  const { request, versions } = rollout;
  // Runs started before it replay their prepare and write as the activities they were.
  const prepareStore = patched(LOCAL_PREPARE_AND_WRITE) ? localStorage : storage;
  const prepared = await prepareStore.prepareRollout(request);
  const previous = prepared.previous;
  versions.previous = previous;
  const removal = request.change.kind === 'remove';
  const writeId = `rollout/${rollout.runId}`;
  // Instances never apply an older version over a newer one, and live never moves back: going back to
  // an older version is a new version with its value, which both accept.
  const copyOf =
    prepared.existing && prepared.rollForward && patched(ROLL_FORWARD_TO_COPY)
      ? prepared.existing
      : undefined;
  const candidate =
    request.change.kind === 'set'
      ? await prepareStore.writeCandidate({ request, value: request.change.value, writeId })
      : removal
        ? // Version 0, removed: the instances forget the key (CacheRefresh), and hold version 0 after.
          { version: 0, value: '', format: previous?.format ?? 'text' }
        : copyOf
          ? await prepareStore.writeCandidate({
              request,
              value: copyOf.value,
              writeId,
              copyOf: copyOf.version,
            })
          : prepared.existing;
  if (!candidate) throw ApplicationFailure.nonRetryable('the version to roll out was not found', 'NotFound');
  if (copyOf) versions.copyOf = copyOf.version;
  const target = candidate;
  versions.candidate = target;
  const payload: RefreshPayload = removal
    ? { ...refreshPayload(rollout, target), value: undefined, removed: true }
    : refreshPayload(rollout, target);
  return { prepared, target, previous, removal, payload };
}

/** A push of `version` to the instances; `revertFrom` when it gives back the version before the candidate. */
export function refreshPayload(rollout: Rollout, version: VersionRef, revertFrom?: number): RefreshPayload {
  const { request } = rollout;
  return {
    tenantId: request.tenantId,
    key: request.key,
    ...(request.service ? { service: request.service } : {}),
    version: version.version,
    value: version.value,
    format: version.format,
    rolloutId: rollout.runId,
    ...(revertFrom !== undefined ? { revertFrom } : {}),
  };
}
