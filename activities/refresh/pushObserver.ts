import * as grpc from '@grpc/grpc-js';

/**
 * Told of each instance's push (its retries included), for the worker's metrics: the instance's service,
 * how it ended (`OK`, `NOT_CONVERGED`, or the gRPC status of the last attempt) and how long it took.
 */
export interface PushObserver {
  pushed(service: string, code: string, seconds: number): void;
}

/** The gRPC status name of a failed call; `UNKNOWN` for anything that is not a gRPC error. */
export function pushErrorCode(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  return (typeof code === 'number' && grpc.status[code]) || 'UNKNOWN';
}
