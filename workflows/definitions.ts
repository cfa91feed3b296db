import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { GatesChange } from '../common/freezes';
import type { ActorInput, RolloutProgress } from '../common/rollout';

/**
 * The rollout's queries and updates, declared once for the workflow and every client, so their names
 * cannot drift. Updates (not signals) so a caller learns at once whether its action was accepted and
 * gets the progress it led to; each carries the actor for audit.
 */
export const progressQuery = defineQuery<RolloutProgress>('progress');
export const approveUpdate = defineUpdate<RolloutProgress, [ActorInput]>('approve');
export const pauseUpdate = defineUpdate<RolloutProgress, [ActorInput]>('pause');
export const resumeUpdate = defineUpdate<RolloutProgress, [ActorInput]>('resume');
export const abortUpdate = defineUpdate<RolloutProgress, [ActorInput]>('abort');
/**
 * Sent by the freeze and change-window endpoints to the tenant's running rollouts (every tenant's, for a
 * platform freeze): a prompt to read the gates again. A signal, not an update: nothing waits for the
 * answer, and a lost one only delays the rollout until its next read of the gates.
 */
export const gatesChangedSignal = defineSignal<[GatesChange]>('gatesChanged');
