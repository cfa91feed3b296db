import { BackendUnavailableError, PlatformError } from '../../common/errors';

/** AWS error names that mean "the backend is not there or not ready", not "your request is wrong". */
const UNAVAILABLE_NAMES = new Set([
  'ResourceNotFoundException',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'InternalServerError',
  'InternalServerErrorException',
  'ThrottlingException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'TimeoutError',
]);

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EPIPE',
]);

/**
 * Runs one backend call and turns infrastructure failures into BackendUnavailableError, so callers see
 * "DynamoDB is unreachable" rather than a socket error. `translate` maps the errors a caller expects
 * (a failed condition, a missing parameter) to what it throws instead; returning the error itself keeps it.
 */
export async function callBackend<T>(
  backend: string,
  call: () => Promise<T>,
  translate: (error: unknown) => Error | undefined = () => undefined,
): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof PlatformError) throw error;
    const translated = translate(error);
    if (translated) throw translated;
    if (isUnavailable(error)) {
      throw new BackendUnavailableError(`${backend} is unavailable: ${describe(error)}`, undefined, {
        cause: error,
      });
    }
    throw error;
  }
}

function isUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  const fault = (error as { $fault?: unknown }).$fault;
  return (
    UNAVAILABLE_NAMES.has(error.name) ||
    (typeof code === 'string' && NETWORK_CODES.has(code)) ||
    fault === 'server' ||
    error.name === 'AggregateError'
  );
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return error.message || (typeof code === 'string' ? code : error.name);
  }
  return String(error);
}
