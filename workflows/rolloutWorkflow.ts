import {
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  patched,
  workflowInfo,
} from '@temporalio/workflow';
import type { RolloutRequest, RolloutResult } from '../common/rollout';
import { planProblems } from '../common/rolloutPlan';
import { discoveryOf, failClosedOnEmptyFleet, fleetCallsOf, fleetOf } from './fleet';
import { FreezeGate } from './freezeGate';
import { BOUNDED_HOLDS, PUBLISH_PROGRESS, ROLL_BACK_ON_ANY_FAILURE } from './patches';
import { prepare } from './prepare';
import { rollBack } from './rollback';
import { Rollout } from './rolloutState';
import { installSteering } from './steeringUpdates';
import { succeed, sweepJoiners } from './sweep';
import { runWavesThenPromote } from './waves';
import { countFinished } from './rolloutMetrics';

/**
 * One staged rollout of one config change for one tenant: write the candidate, push it wave by wave to
 * the consuming services' instances (bake, health gate, approval), promote it to live, sweep instances
 * that joined meanwhile. Past the failure budget, or on abort, every instance that got the candidate is
 * given the previous version back (rollBack, workflows/rollback.ts) and the candidate is never made live.
 */
export async function rolloutWorkflow(request: RolloutRequest): Promise<RolloutResult> {
  const result = await rollOut(request).catch((error: unknown) => {
    countFinished('FAILED');
    throw error;
  });
  countFinished(result.state);
  // A steering update still running would lose its answer. Not cancellable: a cancelled run has rolled
  // back by now and returns that result, as it did before this wait.
  await CancellationScope.nonCancellable(() => condition(allHandlersFinished));
  return result;
}

async function rollOut(request: RolloutRequest): Promise<RolloutResult> {
  const rollout = start(request);
  const freezeGate = new FreezeGate(rollout.freezeHooks());
  installSteering(rollout, freezeGate);
  rollout.announce();

  const candidate = await prepare(rollout);
  // Awaited here, not in a helper: the first wave's commands follow discovery's answer in the same step.
  const calls = fleetCallsOf();
  const fleet = fleetOf(rollout, calls, await calls.discover(discoveryOf(rollout)));
  const nothingToGate = failClosedOnEmptyFleet(rollout, candidate);
  if (nothingToGate) return nothingToGate;

  const promotion = await runWavesThenPromote(rollout, candidate, fleet, freezeGate);
  if ('rolledBack' in promotion) return promotion.rolledBack;
  if ('rollBack' in promotion) return rollBack(rollout, candidate, fleet, promotion.rollBack);
  const sweepProblem = await sweepJoiners(rollout, candidate, fleet, promotion.live);
  return succeed(rollout, candidate, promotion.live, sweepProblem);
}

/** The patches this run starts under, and its request checked before anything is written. */
function start(request: RolloutRequest): Rollout {
  const patches = {
    boundedHolds: patched(BOUNDED_HOLDS),
    publishesProgress: patched(PUBLISH_PROGRESS),
    rollBackOnAnyFailure: patched(ROLL_BACK_ON_ANY_FAILURE),
  };
  const problems = planProblems(request.plan, !patches.boundedHolds);
  if (request.targetServices.length === 0)
    problems.push('targetServices: name at least one consuming service');
  if (problems.length > 0) throw ApplicationFailure.nonRetryable(problems.join('; '), 'InvalidArgument');
  return new Rollout(request, patches, workflowInfo().runId);
}
