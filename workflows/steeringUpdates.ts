import { ApplicationFailure, condition, setHandler } from '@temporalio/workflow';
import type { ActorInput, AuditEntry } from '../common/rollout';
import {
  abortUpdate,
  approveUpdate,
  gatesChangedSignal,
  pauseUpdate,
  progressQuery,
  resumeUpdate,
} from './definitions';
import type { FreezeGate } from './freezeGate';
import type { Rollout } from './rolloutState';

/**
 * Wires the rollout's query, its steering updates (approve, pause, resume, abort) and the gates-changed
 * signal to its state. Each update is validated (actor and state) before it is accepted, so a refused
 * one leaves no event; once accepted it is audited and applied, and answers the progress it led to.
 */
export function installSteering(rollout: Rollout, freezeGate: FreezeGate): void {
  setHandler(progressQuery, () => rollout.progress());
  steer(rollout, approveUpdate, 'approve', {
    allowedNow: () => {
      if (rollout.state !== 'AWAITING_APPROVAL')
        throw new Error(`cannot approve: rollout is ${rollout.state}, not AWAITING_APPROVAL`);
    },
    apply: () => rollout.approvedWaves.add(rollout.currentWave),
    // An approval answers once the rollout has moved on.
    settled: () => rollout.state !== 'AWAITING_APPROVAL',
    authorize: (input) => fourEyes(rollout, input),
  });
  steer(rollout, pauseUpdate, 'pause', {
    allowedNow: () => {
      rollout.assertActive('pause');
      if (rollout.paused) throw new Error('cannot pause: rollout is already paused');
      if (rollout.state === 'PROMOTING') throw new Error('cannot pause: rollout is promoting');
    },
    apply: () => (rollout.paused = true),
  });
  steer(rollout, resumeUpdate, 'resume', {
    allowedNow: () => {
      rollout.assertActive('resume');
      if (!rollout.paused && rollout.hold)
        throw new Error(`cannot resume: held by a ${rollout.hold.gate}, not paused; it resumes once lifted`);
      if (!rollout.paused) throw new Error('cannot resume: rollout is not paused');
    },
    apply: () => (rollout.paused = false),
  });
  steer(rollout, abortUpdate, 'abort', {
    allowedNow: () => {
      rollout.assertActive('abort');
      if (rollout.state === 'PROMOTING')
        throw new Error('cannot abort: the candidate is being promoted to live');
      if (rollout.abortedBy) throw new Error('cannot abort: rollout is already aborting');
    },
    apply: (input) => (rollout.abortedBy = input),
  });
  setHandler(gatesChangedSignal, (change) => freezeGate.notice(change));
}

interface Steering {
  /** Throws the reason the action is refused in the rollout's current state. */
  readonly allowedNow: () => void;
  readonly apply: (input: ActorInput) => void;
  /** When the answer is due: by default at once. */
  readonly settled?: () => boolean;
  /** Whether this actor may take this action; throws a PermissionDenied failure when not. */
  readonly authorize?: (input: ActorInput) => void;
}

function steer(
  rollout: Rollout,
  update: typeof approveUpdate,
  action: AuditEntry['action'],
  { allowedNow, apply, settled = () => true, authorize = () => undefined }: Steering,
): void {
  setHandler(
    update,
    async (input) => {
      rollout.record(action, input);
      apply(input);
      rollout.publish();
      await condition(settled);
      return rollout.progress();
    },
    {
      validator: (input: ActorInput) => {
        assertActor(input);
        allowedNow();
        authorize(input);
      },
    },
  );
}

/**
 * The four-eyes rule: who started a rollout may not approve it, unless its plan allows it. Validators do
 * not run on replay, and a refused update leaves no event: running rollouts get the rule too, and one
 * whose starter approved it before the rule still replays (see the recorded history).
 */
function fourEyes(rollout: Rollout, input: ActorInput): void {
  const { request } = rollout;
  if (input.actor === request.actor && request.plan.allowSelfApproval !== true) {
    throw ApplicationFailure.nonRetryable(
      `four-eyes rule: ${input.actor} started this rollout and may not approve it; another release ` +
        'manager must (or start it with plan.allowSelfApproval: true)',
      'PermissionDenied',
    );
  }
}

function assertActor(input: ActorInput | undefined): void {
  if (!input || typeof input.actor !== 'string' || input.actor.length === 0) {
    throw new Error('actor is required (the subject of the caller’s token)');
  }
}
