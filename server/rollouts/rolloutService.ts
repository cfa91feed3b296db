import * as grpc from '@grpc/grpc-js';
import { createHash } from 'node:crypto';
import {
  ApplicationFailure,
  type Client,
  ServiceError,
  TerminatedFailure,
  TimeoutFailure,
  WorkflowNotFoundError,
  type WorkflowExecutionDescription,
  type WorkflowHandle,
} from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { ConfigStore } from '../../activities/storage/configStore';
import type { FreezeStore } from '../../activities/storage/freezeStore';
import { activeFreeze } from '../../common/freezes';
import {
  BackendUnavailableError,
  FrozenError,
  InvalidArgumentError,
  NotFoundError,
  PlatformError,
} from '../../common/errors';
import {
  type ActorInput,
  DEFAULT_PLAN,
  ROLLOUT_WORKFLOW_TYPE,
  type RolloutAction,
  type RolloutPlan,
  type RolloutRequest,
  type RolloutState,
  parseRolloutWorkflowId,
  rolloutWorkflowId,
} from '../../common/rollout';
import { CONFIG_KEY_PATTERN, SERVICE_NAME_PATTERN } from '../../common/identifiers';
import { planProblems } from '../../common/rolloutPlan';
import { assertShapeWithin } from '../../common/shapeGuard';
import type { ConfigAddress } from '../../common/configAddress';
import type { ConfigVersion } from '../../activities/storage/types';
import type { rolloutWorkflow } from '../../workflows/rolloutWorkflow';
import { progressQuery } from '../../workflows/definitions';
import type { Identity } from '../auth/identity';
import { isErrorCode } from '../../common/errorStatus';
import { historyInPages, startRollout, steerRollout } from '../../rolloutClient';
import { decodeHistoryEvents } from './decodeHistory';
import { publishedProgressOf } from './publishedProgress';
import type { PendingStart } from './runningRolloutQuota';
import { timelineOf } from './timeline';
import type {
  Rollout,
  RolloutPage,
  RolloutStarted,
  RolloutSummary,
  StartRollout,
  TimelineEntry,
} from '../../common/api/rollouts';

/** How long a call waits for Temporal itself: past it Temporal counts as down (503), not a hung read. */
const TEMPORAL_ANSWER_MS = 3_000;
/**
 * How long a read waits for a worker to answer the progress query (a query needs one) before it
 * answers what the rollout last published instead, marked stale.
 */
const WORKER_ANSWER_MS = 2_000;
const RUN_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Rollouts as the API and CLI see them, always within the caller's tenant: a rollout of another tenant
 * is simply not found. Rollout ids are Temporal run ids; lookups go through visibility with the tenant
 * in the query, so an id alone never reaches another tenant's workflow.
 */
export class RolloutService {
  constructor(
    private readonly client: Client,
    private readonly store: ConfigStore,
    private readonly taskQueue: string,
    /** Where a freeze that refuses new rollouts is read. */
    private readonly freezes: Pick<FreezeStore, 'gatesFor'>,
  ) {}

  /**
   * Begins validating a start at once (its store reads) and answers the start itself, to run once the
   * running-rollouts quota admits it: the validation and the quota's count then take their round trips
   * side by side. A validation failure is the start's answer, before the quota's.
   */
  starter(identity: Identity, input: StartRollout): PendingStart<RolloutStarted> {
    // The freeze is read beside the validation's store reads: no round trip of its own.
    const validated = Promise.all([this.toRequest(identity, input), this.assertNotFrozen(identity)]).then(
      ([request]) => request,
    );
    validated.catch(() => undefined);
    const workflowId = validated.then(rolloutWorkflowId);
    workflowId.catch(() => undefined);
    return {
      workflowId,
      run: async () => {
        const request = await validated;
        const handle = await this.reach(() => startRollout(this.client, request, this.taskQueue));
        return {
          rolloutId: formatRolloutId(handle.firstExecutionRunId, request.key, request.service),
          workflowId: handle.workflowId,
          state: 'PREPARING',
        };
      },
    };
  }

  async list(
    identity: Identity,
    filter: { key?: string; state?: string; pageSize: number; pageToken?: string },
  ): Promise<RolloutPage> {
    const clauses = [
      `WorkflowType = '${ROLLOUT_WORKFLOW_TYPE}'`,
      `TenantId = '${quoted(identity.tenantId)}'`,
    ];
    if (filter.key) clauses.push(`ConfigKey = '${quoted(filter.key)}'`);
    if (filter.state) clauses.push(`RolloutState = '${quoted(filter.state)}'`);
    const query = clauses.join(' AND ');
    const response = await this.reach(() =>
      this.client.workflowService.listWorkflowExecutions({
        namespace: this.client.options.namespace,
        query,
        pageSize: filter.pageSize,
        nextPageToken: filter.pageToken ? unwrapPageToken(filter.pageToken, query) : undefined,
      }),
    ).catch((error: unknown) => {
      // A token Temporal cannot read (forged, or from an older server) is the caller's error.
      if (filter.pageToken && temporalStatusOf(error) !== undefined) {
        throw new InvalidArgumentError('pageToken is not valid: list again from the first page', 'pageToken');
      }
      throw error;
    });
    const items = (response.executions ?? []).flatMap((execution): RolloutSummary[] => {
      const workflowId = execution.execution?.workflowId ?? '';
      const runId = execution.execution?.runId ?? '';
      const parsed = parseRolloutWorkflowId(workflowId);
      if (!parsed || !runId) return [];
      const state = (searchAttribute(execution.searchAttributes?.indexedFields?.RolloutState) ??
        'PREPARING') as RolloutState;
      return [
        {
          rolloutId: formatRolloutId(runId, parsed.key, parsed.service),
          workflowId,
          key: parsed.key,
          ...(parsed.service ? { service: parsed.service } : {}),
          state: isAbnormalClose(execution.status) ? 'FAILED' : state,
          startedAt: timestamp(execution.startTime) ?? '',
          ...(execution.closeTime ? { closedAt: timestamp(execution.closeTime) } : {}),
        },
      ];
    });
    const next = response.nextPageToken?.length ? wrapPageToken(response.nextPageToken, query) : undefined;
    return { items, ...(next ? { nextPageToken: next } : {}) };
  }

  /**
   * A rollout's progress. A running one answers its query when a worker does within WORKER_ANSWER_MS,
   * else what it last published, with `staleSince`; a finished one answers its last publication (its
   * final progress) without asking a worker to replay it.
   */
  async get(identity: Identity, rolloutId: string): Promise<Rollout> {
    const { handle, description } = await this.find(identity, rolloutId);
    const published = publishedProgressOf(description, parseRolloutId(rolloutId).key);
    const ids = { rolloutId, workflowId: handle.workflowId };
    const abnormal = ABNORMAL_CLOSE_NAMES.has(description.status.name);
    const failed = async () =>
      abnormal ? { state: 'FAILED' as const, outcome: await this.failureOf(handle) } : {};
    if (description.status.name !== 'RUNNING' && published?.complete) {
      return { ...ids, ...published.progress, ...(await failed()) };
    }
    const answered = await this.reach(() => handle.query(progressQuery), WORKER_ANSWER_MS).catch(
      (error: unknown) => {
        // No published state to fall back on: the caller learns why there is no answer.
        if (!published) throw error;
        return undefined;
      },
    );
    if (answered) return { ...ids, ...answered, ...(await failed()) };
    return { ...ids, ...published!.progress, ...(await failed()), staleSince: published!.at };
  }

  async act(identity: Identity, rolloutId: string, action: RolloutAction, reason?: string): Promise<Rollout> {
    const { handle } = await this.find(identity, rolloutId);
    const input: ActorInput = { actor: identity.subject, ...(reason ? { reason } : {}) };
    const progress = await reachTemporal(() => steerRollout(handle, action, input));
    return { rolloutId, workflowId: handle.workflowId, ...progress };
  }

  async history(identity: Identity, rolloutId: string): Promise<TimelineEntry[]> {
    const { handle } = await this.find(identity, rolloutId);
    const events = await this.reach(() => historyInPages(this.client, handle));
    // Histories hold payloads sealed; the client's own codec opens them.
    const codecs = this.client.options.loadedDataConverter.payloadCodecs;
    return timelineOf(await decodeHistoryEvents(events, codecs));
  }

  /** A frozen tenant (or platform) starts nothing: the refusal names who froze it, when and why. */
  private async assertNotFrozen(identity: Identity): Promise<void> {
    const freeze = activeFreeze(await this.freezes.gatesFor(identity.tenantId));
    if (freeze) throw new FrozenError(freeze, identity.tenantId);
  }

  private async toRequest(identity: Identity, input: StartRollout): Promise<RolloutRequest> {
    const given = [input.value, input.version, input.remove].filter((field) => field !== undefined);
    if (given.length !== 1) {
      throw new InvalidArgumentError(
        'give exactly one of value (a new version), version (an existing one) or remove: true',
        'value',
      );
    }
    // The lock (the workflow id) is the stored key's: a service named on a tenant-wide key is refused.
    const address = this.store.address(identity.tenantId, input.key, input.service);
    // Read beside the validation, and only where the shape guard will judge: a removal has nothing to
    // measure, and a confirmed change or a guard turned off costs the start no read.
    const judged = !input.remove && input.allowShapeChange !== true && input.plan?.shapeGuard !== 'off';
    const live = judged ? liveOrNone(this.store, address) : undefined;
    live?.catch(() => undefined);
    let value: string | undefined;
    if (input.remove) {
      // Only a key that is live can be removed; this also validates the key and service.
      await this.store.getLive(address);
    } else {
      // An existing version must exist (this also validates the key and service) and match the schema too.
      value = input.value ?? (await this.store.getVersion(address, input.version!)).value;
      await this.store.validate(address, value);
    }

    const targetServices = input.targetServices ?? (address.service ? [address.service] : []);
    if (targetServices.length === 0) {
      throw new InvalidArgumentError('targetServices is required for tenant-wide keys', 'targetServices');
    }
    const plan: RolloutPlan = { ...DEFAULT_PLAN, ...input.plan };
    const [problem] = planProblems(plan);
    if (problem) throw new InvalidArgumentError(problem, problem.split(':')[0]);
    const allowShapeChange = input.allowShapeChange === true;
    if (value !== undefined && live) {
      assertShapeWithin({
        live: await live,
        candidate: value,
        setting: plan.shapeGuard,
        confirmed: allowShapeChange,
      });
    }
    return {
      tenantId: address.tenantId,
      key: address.key,
      ...(address.service ? { service: address.service } : {}),
      change: input.remove
        ? { kind: 'remove' }
        : input.value !== undefined
          ? { kind: 'set', value: input.value }
          : { kind: 'existing', version: input.version! },
      targetServices,
      plan,
      actor: identity.subject,
      ...(allowShapeChange ? { allowShapeChange } : {}),
    };
  }

  /**
   * The workflow is addressed by the caller's tenant and the key named in the id: an id taken from
   * another tenant names a workflow that does not exist for this one. Describe is strongly consistent,
   * unlike visibility, so a rollout is found the moment it has started.
   */
  private async find(
    identity: Identity,
    rolloutId: string,
  ): Promise<{
    handle: WorkflowHandle<typeof rolloutWorkflow>;
    description: WorkflowExecutionDescription;
  }> {
    const { runId, key, service } = parseRolloutId(rolloutId);
    const workflowId = rolloutWorkflowId({ tenantId: identity.tenantId, key, service });
    const handle = this.client.workflow.getHandle<typeof rolloutWorkflow>(workflowId, runId);
    try {
      return { handle, description: await this.reach(() => handle.describe()) };
    } catch (error) {
      // Temporal refuses some run ids as malformed rather than unknown; to the caller both are "no such rollout".
      if (
        error instanceof WorkflowNotFoundError ||
        temporalStatusOf(error) === grpc.status.INVALID_ARGUMENT
      ) {
        throw new NotFoundError(`rollout ${rolloutId} not found`, 'rolloutId');
      }
      throw error;
    }
  }

  /** A Temporal call bounded in time, so a Temporal that does not answer is a prompt 503. */
  private reach<T>(call: () => Promise<T>, withinMs = TEMPORAL_ANSWER_MS): Promise<T> {
    return reachTemporal(() => this.client.withDeadline(Date.now() + withinMs, call));
  }

  /**
   * Why a run ended abnormally, from its close event (no worker needed). A platform error (a refused
   * value, a version limit) is the caller's to read and is quoted; anything else may carry
   * infrastructure details (account ids, role ARNs), so it is named only by kind and left to the
   * workflow's history, which operators can read in Temporal.
   */
  private async failureOf(handle: WorkflowHandle<typeof rolloutWorkflow>): Promise<string> {
    return failureReason(
      await this.reach(() => handle.result()).then(
        () => undefined,
        (failure: unknown) => {
          if (failure instanceof PlatformError) throw failure;
          return failure;
        },
      ),
    );
  }
}

/** The live version, or undefined where none is live. */
function liveOrNone(store: ConfigStore, address: ConfigAddress): Promise<ConfigVersion | undefined> {
  return store.getLive(address).catch((error: unknown) => {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  });
}

function failureReason(error: unknown): string {
  for (let cause: unknown = error; cause instanceof Error; cause = cause.cause) {
    if (cause instanceof ApplicationFailure && cause.type && isErrorCode(cause.type)) {
      // An outage's message is the AWS SDK's own, which can name accounts and roles.
      return cause.type === 'BackendUnavailable'
        ? "failed: a store or Cloud Map stayed unavailable; the workflow's history in Temporal has the details"
        : `failed: ${cause.message}`;
    }
    if (cause instanceof TerminatedFailure) return 'failed: terminated by an operator';
    if (cause instanceof TimeoutFailure) return 'failed: timed out';
  }
  return "failed: an internal error; the workflow's history in Temporal has the details";
}

/**
 * A rollout's id names its run and what it rolls out (`{runId}~{key}` or `{runId}~{key}~{service}`): with
 * the caller's tenant that is the workflow's full address. `~` is outside every name's character set.
 */
export function formatRolloutId(runId: string, key: string, service?: string): string {
  return [runId, key, ...(service ? [service] : [])].join('~');
}

function parseRolloutId(rolloutId: string): { runId: string; key: string; service?: string } {
  const [runId, key, service, ...rest] = rolloutId.split('~');
  const valid =
    runId !== undefined &&
    RUN_ID_PATTERN.test(runId) &&
    key !== undefined &&
    CONFIG_KEY_PATTERN.test(key) &&
    (service === undefined || SERVICE_NAME_PATTERN.test(service)) &&
    rest.length === 0;
  if (!valid) throw new InvalidArgumentError(`"${rolloutId.slice(0, 80)}" is not a rollout id`, 'rolloutId');
  return { runId: runId, key: key, ...(service ? { service } : {}) };
}

/**
 * Page tokens are Temporal's, wrapped with a fingerprint of the query they belong to: a token that is
 * not one of ours, or belongs to another filter (or tenant), is refused before Temporal sees it.
 */
function wrapPageToken(token: Uint8Array, query: string): string {
  return Buffer.from(
    JSON.stringify({ q: fingerprint(query), t: Buffer.from(token).toString('base64') }),
  ).toString('base64url');
}

function unwrapPageToken(pageToken: string, query: string): Buffer {
  try {
    const parsed = JSON.parse(Buffer.from(pageToken, 'base64url').toString('utf8')) as {
      q?: unknown;
      t?: unknown;
    };
    if (parsed.q === fingerprint(query) && typeof parsed.t === 'string' && parsed.t.length > 0) {
      return Buffer.from(parsed.t, 'base64');
    }
  } catch {
    // fall through to the refusal below
  }
  throw new InvalidArgumentError(
    'pageToken does not belong to this list: pass the one the previous page returned',
    'pageToken',
  );
}

function fingerprint(query: string): string {
  return createHash('sha256').update(query).digest('base64url').slice(0, 16);
}

/** The gRPC status of a Temporal client error, if it is one (the client wraps them in ServiceError). */
function temporalStatusOf(error: unknown): number | undefined {
  const grpcError = error instanceof ServiceError ? error.cause : error;
  const code = (grpcError as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** Temporal out of reach is the caller's 503, not a bug's 500. */
async function reachTemporal<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    const code = temporalStatusOf(error);
    if (code === grpc.status.UNAVAILABLE || code === grpc.status.DEADLINE_EXCEEDED) {
      throw new BackendUnavailableError(
        'Temporal, which rollouts run on, does not answer: rollouts cannot be read or steered until it is ' +
          'back (config reads are not affected)',
        undefined,
        { cause: error },
      );
    }
    throw error;
  }
}

/** Visibility query strings are single-quoted; names here are validated, this is defence in depth. */
function quoted(value: string): string {
  return value.replace(/['\\]/g, '');
}

/** How describe() names the same statuses. */
const ABNORMAL_CLOSE_NAMES: ReadonlySet<string> = new Set(['FAILED', 'CANCELLED', 'TERMINATED', 'TIMED_OUT']);

const Status = temporal.api.enums.v1.WorkflowExecutionStatus;
const ABNORMAL_CLOSE: ReadonlySet<number> = new Set([
  Status.WORKFLOW_EXECUTION_STATUS_FAILED,
  Status.WORKFLOW_EXECUTION_STATUS_CANCELED,
  Status.WORKFLOW_EXECUTION_STATUS_TERMINATED,
  Status.WORKFLOW_EXECUTION_STATUS_TIMED_OUT,
]);

/** Failed, cancelled, terminated or timed out: the workflow did not finish through its own logic. */
function isAbnormalClose(status: number | null | undefined): boolean {
  return status !== null && status !== undefined && ABNORMAL_CLOSE.has(status);
}

function searchAttribute(payload: { data?: Uint8Array | null } | null | undefined): string | undefined {
  if (!payload?.data) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(payload.data).toString('utf8'));
    return typeof value === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

function timestamp(
  time: { seconds?: unknown; nanos?: number | null } | null | undefined,
): string | undefined {
  if (!time) return undefined;
  return new Date(Number(time.seconds ?? 0) * 1000 + Math.floor((time.nanos ?? 0) / 1e6)).toISOString();
}
