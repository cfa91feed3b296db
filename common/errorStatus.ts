import { Metadata, type StatusObject, status as GrpcStatus } from '@grpc/grpc-js';
import { type ErrorCode, LimitExceededError, PlatformError } from './errors';

/** The one mapping from platform errors to HTTP and gRPC status codes. */
const STATUS_BY_CODE: Record<ErrorCode, { http: number; grpc: GrpcStatus }> = {
  InvalidArgument: { http: 400, grpc: GrpcStatus.INVALID_ARGUMENT },
  InvalidKey: { http: 400, grpc: GrpcStatus.INVALID_ARGUMENT },
  UnknownPrefix: { http: 400, grpc: GrpcStatus.INVALID_ARGUMENT },
  ValueTooLarge: { http: 413, grpc: GrpcStatus.INVALID_ARGUMENT },
  InvalidJson: { http: 400, grpc: GrpcStatus.INVALID_ARGUMENT },
  SchemaViolation: { http: 400, grpc: GrpcStatus.INVALID_ARGUMENT },
  // Not a broken rule (400) nor a busy server (503): the same schema and value would exceed it again.
  SchemaBudgetExceeded: { http: 422, grpc: GrpcStatus.INVALID_ARGUMENT },
  NotFound: { http: 404, grpc: GrpcStatus.NOT_FOUND },
  VersionConflict: { http: 409, grpc: GrpcStatus.ABORTED },
  VersionLimitReached: { http: 409, grpc: GrpcStatus.FAILED_PRECONDITION },
  Unauthenticated: { http: 401, grpc: GrpcStatus.UNAUTHENTICATED },
  PermissionDenied: { http: 403, grpc: GrpcStatus.PERMISSION_DENIED },
  BackendUnavailable: { http: 503, grpc: GrpcStatus.UNAVAILABLE },
  RolloutInProgress: { http: 409, grpc: GrpcStatus.ALREADY_EXISTS },
  RolloutStateConflict: { http: 409, grpc: GrpcStatus.FAILED_PRECONDITION },
  FleetTooLarge: { http: 409, grpc: GrpcStatus.FAILED_PRECONDITION },
  PayloadUndecryptable: { http: 422, grpc: GrpcStatus.DATA_LOSS },
  LimitExceeded: { http: 429, grpc: GrpcStatus.RESOURCE_EXHAUSTED },
  PlanLimitReached: { http: 409, grpc: GrpcStatus.FAILED_PRECONDITION },
  Frozen: { http: 409, grpc: GrpcStatus.FAILED_PRECONDITION },
  // Well-formed and within every limit, yet not processed as sent: the same request is refused again
  // until it confirms the change (a retry alone never passes, unlike a 409's race).
  ShapeChangeRefused: { http: 422, grpc: GrpcStatus.FAILED_PRECONDITION },
};

/** Whether a string (a Temporal failure's type, say) is one of the platform's error codes. */
export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(STATUS_BY_CODE, code);
}

export interface ErrorReply {
  readonly http: number;
  readonly grpc: GrpcStatus;
  readonly code: ErrorCode | 'Internal';
  readonly message: string;
  readonly field?: string;
  /** For LimitExceeded: which limit, and when a retry may pass. */
  readonly limit?: string;
  readonly retryAfterSeconds?: number;
}

/** Anything that is not a PlatformError is a bug: report it as internal without leaking its details. */
export function errorReply(error: unknown): ErrorReply {
  if (error instanceof PlatformError) {
    return {
      ...STATUS_BY_CODE[error.code],
      code: error.code,
      message: error.message,
      field: error.field,
      ...(error instanceof LimitExceededError
        ? { limit: error.limit, retryAfterSeconds: error.retryAfterSeconds }
        : {}),
    };
  }
  return { http: 500, grpc: GrpcStatus.INTERNAL, code: 'Internal', message: 'internal error' };
}

/**
 * The gRPC status for a reply, with `error-code` and `error-field` (and for a limit `error-limit` and
 * `retry-after`, in seconds) trailers for programs to act on.
 */
export function grpcStatusOf(reply: ErrorReply): Partial<StatusObject> {
  const metadata = new Metadata();
  metadata.set('error-code', reply.code);
  if (reply.field) metadata.set('error-field', reply.field);
  if (reply.limit) metadata.set('error-limit', reply.limit);
  if (reply.retryAfterSeconds !== undefined) metadata.set('retry-after', String(reply.retryAfterSeconds));
  return { code: reply.grpc, details: reply.message, metadata };
}
