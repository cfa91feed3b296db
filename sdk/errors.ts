import { status as GrpcStatus } from '@grpc/grpc-js';

/**
 * Errors the SDK raises for its own failures. Bad input from the app (a malformed key, a tenant a silo
 * does not serve) uses the platform's error types in common/errors.ts instead.
 */

/** A ConfigService call failed; `status` is the gRPC status, `errorCode` and `field` its error trailers. */
export class ConfigServiceError extends Error {
  constructor(
    readonly status: GrpcStatus,
    details: string,
    readonly errorCode?: string,
    readonly field?: string,
  ) {
    super(`ConfigService answered ${GrpcStatus[status] ?? status}: ${details}`);
    this.name = 'ConfigServiceError';
  }
}

/** The client was used before start() or after stop(). */
export class ConfigClientStateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigClientStateError';
  }
}

/** The instance could not register itself in (or deregister from) AWS Cloud Map. */
export class CloudMapRegistrationError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'CloudMapRegistrationError';
  }
}
