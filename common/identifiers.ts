import { InvalidArgumentError, InvalidKeyError } from './errors';

/**
 * The safe character sets for the names that end up in storage keys and Parameter Store paths.
 * Anything that could change a path's meaning (`/`, `..`, whitespace, control characters, `#` which
 * separates DynamoDB sort-key parts) is outside them.
 */
export const CONFIG_KEY_PATTERN = /^[A-Za-z0-9_.-]{1,128}$/;
export const SERVICE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
export const TENANT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const MAX_KEY_LENGTH = 128;
const MAX_SERVICE_LENGTH = 64;

export function assertConfigKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || key.length === 0) {
    throw new InvalidKeyError('key is required');
  }
  // The length first: input may be megabytes, and is refused without being scanned.
  if (key.length > MAX_KEY_LENGTH || !CONFIG_KEY_PATTERN.test(key) || key.includes('..')) {
    throw new InvalidKeyError(
      `key "${printable(key)}" is invalid: use 1-128 letters, digits, "_", "-" or "." (no "..")`,
    );
  }
}

export function assertServiceName(service: unknown): asserts service is string {
  if (
    typeof service !== 'string' ||
    service.length > MAX_SERVICE_LENGTH ||
    !SERVICE_NAME_PATTERN.test(service) ||
    service.includes('..')
  ) {
    throw new InvalidArgumentError(
      `service "${printable(String(service))}" is invalid: use 1-64 letters, digits, "_", "-" or "." starting with a letter or digit`,
      'service',
    );
  }
}

export function isTenantId(tenantId: unknown): tenantId is string {
  return typeof tenantId === 'string' && tenantId.length <= 64 && TENANT_ID_PATTERN.test(tenantId);
}

/** The tenant comes from a verified token; a malformed one is a bug upstream, never user input. */
export function assertTenantId(tenantId: unknown): asserts tenantId is string {
  if (!isTenantId(tenantId)) throw new InvalidArgumentError('tenant id is malformed', 'tenantId');
}

/** Error messages echo user input; keep them on one line and short. */
function printable(input: string): string {
  const clipped = input.length > 64 ? `${input.slice(0, 64)}… (${input.length} characters)` : input;
  return JSON.stringify(clipped).slice(1, -1);
}
