import type { Client } from '@temporalio/client';
import { parseParameterName } from '../activities/storage/ssmStrategy';
import type { ConfigStore } from '../activities/storage/configStore';
import type { OutOfBandPlanStore } from '../activities/storage/outOfBandPlanStore';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { ConfigAddress } from '../common/configAddress';
import type { HistoryEntry } from '../activities/storage/types';
import { SSM_LIVE_LABEL } from '../common/constants';
import { NotFoundError, PlatformError, RolloutInProgressError } from '../common/errors';
import { assertConfigKey } from '../common/identifiers';
import { choosePlan, describeChosenPlan } from '../common/outOfBandPlans';
import {
  type RolloutChange,
  type RolloutPlan,
  type RolloutState,
  rolloutWorkflowId,
} from '../common/rollout';
import { startRollout } from '../rolloutClient';
import { progressQuery } from '../workflows/definitions';
import type { ParameterStoreChange } from './parameterStoreChangeEvent';

export interface ParameterChangeDeps {
  readonly store: ConfigStore;
  readonly temporal: Client;
  readonly taskQueue: string;
  /** The tenants' per-key plans (REST /v1/rollout-plans); read on every edit that starts a rollout. */
  readonly plans: Pick<OutOfBandPlanStore, 'list'>;
  /** The plan of a key no stored plan matches. */
  readonly plan: RolloutPlan;
  readonly log: (message: string, fields: Record<string, unknown>) => void;
}

export type ChangeOutcome =
  | { readonly outcome: 'ignored'; readonly reason: string }
  | { readonly outcome: 'already-rolling-out'; readonly workflowId: string; readonly version: number }
  | {
      readonly outcome: 'started';
      readonly workflowId: string;
      readonly runId: string;
      readonly version: number;
      /** The plan it rolls out with: the selector (and service) of the tenant's plan, or `default`. */
      readonly plan: string;
    };

const FINISHED: readonly RolloutState[] = ['SUCCEEDED', 'ROLLED_BACK', 'FAILED'];

/** Operations that can leave a new version to roll out. */
const VERSIONING_OPERATIONS = new Set(['Create', 'Update', 'LabelParameterVersion']);

/**
 * Turns an out-of-band Parameter Store edit into the same staged rollout a release manager would start.
 * The event says which parameter changed but not its version, and may arrive twice: the version is read
 * from Parameter Store, and the store's own state decides, so a repeated delivery starts nothing new:
 *
 * - a version a rollout wrote (its write id is in the version's description) is that rollout's business;
 * - a version that is already live, or older than the live one, has been rolled out already;
 * - a rollout of the key that is running for the same version is the one this event already started;
 * - a deletion is rolled out as a removal (instances forget the key), once.
 *
 * The rollout takes the plan the edited parameter's tenant set for the key (exact key, else longest
 * prefix), else the Lambda's default.
 *
 * Throws when the edit cannot be handled now (another version's rollout is running, a store, the plans'
 * table or Temporal is unreachable): Lambda and EventBridge retry, and past their retries the dead-letter
 * queue keeps it. An unreadable plan is never replaced by the default: the edit waits rather than rolling
 * out slower, or faster, than its release manager chose.
 */
export async function rollOutParameterChange(
  change: ParameterStoreChange,
  deps: ParameterChangeDeps,
): Promise<ChangeOutcome> {
  const { name, operation } = change.detail;
  const address = parseParameterName(name);
  if (!address) return ignored(deps, change, `${name} is outside /config-service/{tenant}/{service}/{key}`);
  let newest: HistoryEntry | undefined;
  let previous: HistoryEntry | undefined;
  try {
    assertConfigKey(address.key);
    // Validates tenant, service and prefix too: the same rules as every other write. A tenant-wide key
    // (tenant_config_) lives in DynamoDB: a parameter of that name, which names a service, is someone's
    // lookalike, and rolling it out would roll out the DynamoDB key. Refused, so dropped, not retried.
    // The whole history is what `latest` reads too; the version before the newest tells a rollout's
    // write from an edit that carried its description (and write id) over.
    [newest, previous] = await deps.store.history(address);
  } catch (error) {
    if (!(error instanceof NotFoundError)) {
      if (error instanceof PlatformError && error.code !== 'BackendUnavailable') {
        return ignored(deps, change, `${name} is not a platform config key: ${error.message}`);
      }
      throw error;
    }
  }
  if (operation === 'Delete')
    return rollOutRemoval(change, { ...address, exists: newest !== undefined }, deps);
  if (!VERSIONING_OPERATIONS.has(operation))
    return ignored(deps, change, `${operation} leaves no version to roll out`);

  if (!newest) return ignored(deps, change, `${name} no longer exists`);
  const liveVersion = await deps.store.getLive(address).then(
    (live) => live.version,
    (error: unknown) => {
      if (error instanceof NotFoundError) return 0;
      throw error;
    },
  );
  // An operator moved `live` back to an older version (an emergency rollback): that version is what they
  // want served, not the newest. The rollout writes a copy of it, which instances accept over a newer one.
  if (isLiveLabelMove(change) && liveVersion > 0 && liveVersion < newest.version) {
    return start(change, address, { kind: 'existing', version: liveVersion }, liveVersion, deps);
  }
  // A rollout writes one version per write id. Parameter Store keeps a version's description for the
  // next PutParameter that gives none (moto does), so an edit by hand right after a rollout's write
  // carries that write id: the same id on the version before is the sign it was carried, not written.
  if (newest.writeId && newest.writeId !== previous?.writeId)
    return ignored(deps, change, `version ${newest.version} was written by ${newest.writeId}`);
  if (newest.version <= liveVersion) {
    return ignored(
      deps,
      change,
      `version ${newest.version} is not newer than the live version ${liveVersion}`,
    );
  }
  return start(change, address, { kind: 'existing', version: newest.version }, newest.version, deps);
}

/**
 * A deleted parameter: its instances must forget it. A name created again since has its own Create
 * event; a removal this key's latest rollout already made (or is making) is not made twice.
 */
async function rollOutRemoval(
  change: ParameterStoreChange,
  address: Required<ConfigAddress> & { exists: boolean },
  deps: ParameterChangeDeps,
): Promise<ChangeOutcome> {
  if (address.exists)
    return ignored(deps, change, `${change.detail.name} exists again: its Create event rolls it out`);
  const latest = await deps.temporal.workflow
    .getHandle(rolloutWorkflowId(address))
    .query(progressQuery)
    .catch((error: unknown) => {
      if (error instanceof WorkflowNotFoundError) return undefined;
      throw error;
    });
  if (latest?.change === 'remove' && FINISHED.includes(latest.state)) {
    return ignored(deps, change, `the removal of ${change.detail.name} was rolled out already`);
  }
  return start(change, address, { kind: 'remove' }, 0, deps);
}

/** Starts the rollout; one already running for the same change is the one this event started. */
async function start(
  change: ParameterStoreChange,
  address: Required<ConfigAddress>,
  rolloutChange: RolloutChange,
  version: number,
  deps: ParameterChangeDeps,
): Promise<ChangeOutcome> {
  // Only the plans of the tenant whose parameter changed (its name, hence its path, names the tenant).
  const chosen = choosePlan(await deps.plans.list(address.tenantId), address, deps.plan);
  const plan = describeChosenPlan(chosen);
  const request = {
    tenantId: address.tenantId,
    key: address.key,
    service: address.service,
    change: rolloutChange,
    targetServices: [address.service],
    plan: chosen.plan,
    actor: `parameter-store-change:${change.id}`,
  };
  try {
    const handle = await startRollout(deps.temporal, request, deps.taskQueue);
    deps.log('started a rollout for an out-of-band edit', {
      eventId: change.id,
      tenantId: address.tenantId,
      key: address.key,
      service: address.service,
      change: rolloutChange.kind,
      version,
      plan,
      workflowId: handle.workflowId,
      runId: handle.firstExecutionRunId,
    });
    return {
      outcome: 'started',
      workflowId: handle.workflowId,
      runId: handle.firstExecutionRunId,
      version,
      plan,
    };
  } catch (error) {
    if (!(error instanceof RolloutInProgressError)) throw error;
    const running = await deps.temporal.workflow.getHandle(error.workflowId).query(progressQuery);
    // A rollback to an older version rolls out a copy of it: the copy's source is the version.
    const rollingOut = running.copyOf ?? running.candidateVersion ?? 0;
    if (running.change === rolloutChange.kind && rollingOut === version) {
      deps.log('a rollout of this change is already running', {
        eventId: change.id,
        workflowId: error.workflowId,
      });
      return { outcome: 'already-rolling-out', workflowId: error.workflowId, version };
    }
    throw error;
  }
}

function isLiveLabelMove(change: ParameterStoreChange): boolean {
  return (
    change.detail.operation === 'LabelParameterVersion' &&
    (change.detail.labels ?? []).includes(SSM_LIVE_LABEL)
  );
}

function ignored(deps: ParameterChangeDeps, change: ParameterStoreChange, reason: string): ChangeOutcome {
  deps.log('ignored a Parameter Store change', { eventId: change.id, name: change.detail.name, reason });
  return { outcome: 'ignored', reason };
}
