import { type Freeze, describeFreeze } from './freezes';

/**
 * One error type per failure a caller can act on. Each carries a stable `code` (also used as the Temporal
 * ApplicationFailure type, since bundlers may rename classes) and, where one input is at fault, the
 * `field` that names it. HTTP and gRPC status codes are assigned once, in common/errorStatus.ts.
 */
export type ErrorCode =
  | 'InvalidArgument'
  | 'InvalidKey'
  | 'UnknownPrefix'
  | 'ValueTooLarge'
  | 'InvalidJson'
  | 'SchemaViolation'
  | 'SchemaBudgetExceeded'
  | 'NotFound'
  | 'VersionConflict'
  | 'VersionLimitReached'
  | 'Unauthenticated'
  | 'PermissionDenied'
  | 'BackendUnavailable'
  | 'RolloutInProgress'
  | 'RolloutStateConflict'
  | 'FleetTooLarge'
  | 'PayloadUndecryptable'
  | 'LimitExceeded'
  | 'PlanLimitReached'
  | 'Frozen'
  | 'ShapeChangeRefused';

export abstract class PlatformError extends Error {
  abstract readonly code: ErrorCode;

  constructor(
    message: string,
    readonly field?: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A request field is missing or malformed. */
export class InvalidArgumentError extends PlatformError {
  readonly code = 'InvalidArgument';
}

/** A config key uses characters outside the documented safe set. */
export class InvalidKeyError extends PlatformError {
  readonly code = 'InvalidKey';
  constructor(message: string) {
    super(message, 'key');
  }
}

/** A config key's prefix names no storage backend. */
export class UnknownPrefixError extends PlatformError {
  readonly code = 'UnknownPrefix';
  constructor(key: string, knownPrefixes: readonly string[]) {
    super(`key "${key}" has no known prefix; expected one of: ${knownPrefixes.join(', ')}`, 'key');
  }
}

/** A value exceeds what its backend can store. */
export class ValueTooLargeError extends PlatformError {
  readonly code = 'ValueTooLarge';
  constructor(backend: string, sizeBytes: number, limitBytes: number) {
    super(`value is ${sizeBytes} bytes; ${backend} accepts at most ${limitBytes}`, 'value');
  }
}

/** A value that must be JSON does not parse. */
export class InvalidJsonError extends PlatformError {
  readonly code = 'InvalidJson';
  constructor(key: string, reason: string) {
    super(`value of "${key}" must be valid JSON: ${reason}`, 'value');
  }
}

/** A value does not match the JSON Schema its tenant registered for the key. */
export class SchemaViolationError extends PlatformError {
  readonly code = 'SchemaViolation';
  constructor(
    readonly key: string,
    readonly violations: readonly string[],
  ) {
    super(`value of "${key}" does not match its schema: ${violations.join('; ')}`, 'value');
  }
}

/**
 * Compiling a schema, or checking a value against one, needed more time or memory than one check may
 * take (SCHEMA_EVALUATION_BUDGET_MS, SCHEMA_EVALUATION_MEMORY_MB): a simpler schema or value passes.
 */
export class SchemaBudgetExceededError extends PlatformError {
  readonly code = 'SchemaBudgetExceeded';
  constructor(field: 'schema' | 'value', budget: string) {
    super(
      `schema evaluation exceeded its budget of ${budget} while ${
        field === 'schema' ? 'compiling the schema' : 'checking the value against its schema'
      }`,
      field,
    );
  }
}

/** No such key or version for the caller's tenant (also what another tenant's key looks like). */
export class NotFoundError extends PlatformError {
  readonly code = 'NotFound';
}

/** A conditional write lost: the key moved on since the caller read it. Re-read and retry. */
export class VersionConflictError extends PlatformError {
  readonly code = 'VersionConflict';
  constructor(
    key: string,
    readonly expectedVersion: number,
    readonly actualVersion: number,
  ) {
    super(
      `version conflict on "${key}": expected version ${expectedVersion}, found ${actualVersion}`,
      'expectedVersion',
    );
  }
}

/**
 * The backend keeps a bounded number of versions and cannot drop the oldest because it is the live one
 * (Parameter Store: 100, and a labelled version is never dropped). Making a newer version live frees it.
 */
export class VersionLimitError extends PlatformError {
  readonly code = 'VersionLimitReached';
  constructor(key: string, backend: string, limit: number) {
    super(
      `${backend} keeps ${limit} versions of "${key}" and its oldest is the live one: make a newer version live ` +
        '(roll out an existing version) before writing another',
      'key',
    );
  }
}

/** No credentials, or credentials that do not verify. */
export class UnauthenticatedError extends PlatformError {
  readonly code = 'Unauthenticated';
}

/** Verified caller whose role does not allow the action. */
export class PermissionDeniedError extends PlatformError {
  readonly code = 'PermissionDenied';
}

/** A storage backend could not be reached or refused for reasons the caller cannot fix. */
export class BackendUnavailableError extends PlatformError {
  readonly code = 'BackendUnavailable';
}

/** Another rollout of the same tenant and key is still running: one at a time. */
export class RolloutInProgressError extends PlatformError {
  readonly code = 'RolloutInProgress';
  constructor(readonly workflowId: string) {
    super(
      `a rollout of this key is already running (workflow ${workflowId}): wait for it, or abort it`,
      'key',
    );
  }
}

/** The rollout is not in a state that allows the action (approve while not awaiting approval, …). */
export class RolloutStateConflictError extends PlatformError {
  readonly code = 'RolloutStateConflict';
}

/** More instances serve the tenant than one rollout may reach: a bound on what Cloud Map can make us do. */
export class FleetTooLargeError extends PlatformError {
  readonly code = 'FleetTooLarge';
}

/**
 * An encrypted Temporal payload that cannot be opened: altered, or sealed under a key this process does
 * not hold (another key file, a KMS key its role may not use).
 */
export class PayloadUndecryptableError extends PlatformError {
  readonly code = 'PayloadUndecryptable';
}

/**
 * The caller is over one of its rate limits or quotas (requests a second, open streams, running
 * rollouts), per identity or per tenant. `limit` names which; retrying after `retryAfterSeconds` may pass.
 */
export class LimitExceededError extends PlatformError {
  readonly code = 'LimitExceeded';
  constructor(
    readonly limit: string,
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}

/**
 * A tenant holds as many out-of-band plans as it may (common/outOfBandPlans.ts): a bound on what every
 * Parameter Store edit of the tenant reads. Deleting one makes room; retrying alone never will.
 */
export class PlanLimitReachedError extends PlatformError {
  readonly code = 'PlanLimitReached';
  constructor(limit: number) {
    super(`a tenant keeps at most ${limit} out-of-band plans: delete one before adding another`, 'selector');
  }
}

/**
 * The caller's tenant, or the whole platform, is frozen: no rollout starts until whoever may lifts it.
 * The message names who froze it, when and why.
 */
export class FrozenError extends PlatformError {
  readonly code = 'Frozen';
  constructor(
    readonly freeze: Freeze,
    tenantId: string,
  ) {
    super(`no rollout may start: ${describeFreeze(freeze, tenantId)}`);
  }
}

/**
 * A candidate's size or top-level shape changed against the live value by more than the plan's factor
 * (common/shapeGuard.ts): refused before anything is written, unless the start confirms it.
 */
export class ShapeChangeRefusedError extends PlatformError {
  readonly code = 'ShapeChangeRefused';
  constructor(
    readonly liveVersion: number,
    readonly maxFactor: number,
    /** Each measure that changed, as `bytes 1204 → 2410 (2.00x)`. */
    readonly changes: readonly string[],
  ) {
    super(
      `value changes shape against live version ${liveVersion} by more than the plan's factor of ` +
        `${maxFactor}: ${changes.join('; ')}. If this is intended, confirm it ` +
        '(allowShapeChange: true; cfgctl rollout start --allow-shape-change) or set plan.shapeGuard',
      'value',
    );
  }
}

/** What a caught value says: an Error's message, anything else thrown as text. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
