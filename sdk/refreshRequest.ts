import type { ConfigAddress } from '../common/configAddress';
import { InvalidArgumentError, PlatformError, errorMessage } from '../common/errors';
import { assertConfigKey, assertServiceName, isTenantId } from '../common/identifiers';
import { keysHash, type PushScope, refreshScope, sealingContext } from '../common/pushGrant';
import type { HealthRequest__Output } from '../gen/proto/configsvc/v1/HealthRequest';
import type { RefreshRequest__Output } from '../gen/proto/configsvc/v1/RefreshRequest';
import type { Delivery } from './heldConfig';

/** Opens a sealed value (common/sealedValue.ts) or throws. */
export type OpenSealed = (sealed: Buffer, context: string) => string;

/**
 * Turns CacheRefresh messages into what HeldConfig applies, refusing anything malformed with an error
 * that names the proto field at fault; `scope` is what the call's push grant must authorise.
 */
export function parseRefreshRequest(
  request: RefreshRequest__Output,
  open: OpenSealed,
): {
  readonly address: ConfigAddress;
  readonly delivery: Delivery;
  readonly scope: PushScope;
} {
  const address = parseAddress(request, '');
  const version = nonNegativeInteger(request.version, 'version');
  const revertFrom = nonNegativeInteger(request.revert_from, 'revert_from');
  if (revertFrom > 0 && revertFrom <= version) {
    throw new InvalidArgumentError(
      `revert_from (${revertFrom}) must be newer than the version rolled back to (${version})`,
      'revert_from',
    );
  }
  const rolloutId = request.rollout_id || undefined;
  const scopeOf = (value: string | undefined): PushScope =>
    refreshScope({
      ...address,
      version,
      revertFrom,
      value,
      format: request.format,
      rolloutId: request.rollout_id,
    });
  if (request.change === 'removed' && request.removed === true) {
    return {
      address,
      delivery: { version, value: undefined, revertFrom, rolloutId },
      scope: scopeOf(undefined),
    };
  }
  const sealed = request.change === 'sealed_value' ? request.sealed_value : undefined;
  if (!sealed || sealed.length === 0) {
    throw new InvalidArgumentError('sealed_value is required unless removed is set', 'sealed_value');
  }
  if (version < 1) throw new InvalidArgumentError('version of a value must be at least 1', 'version');
  if (request.format !== 'json' && request.format !== 'text') {
    throw new InvalidArgumentError(`format must be "json" or "text", not "${request.format}"`, 'format');
  }
  let value: string;
  try {
    value = open(sealed, sealingContext({ ...address, version }));
  } catch (error) {
    const reason = errorMessage(error);
    throw new InvalidArgumentError(`sealed_value cannot be opened: ${reason}`, 'sealed_value');
  }
  return {
    address,
    delivery: { version, value: { value, format: request.format }, revertFrom, rolloutId },
    scope: scopeOf(value),
  };
}

/** The keys a Health call asks about, in request order, and what its push grant must authorise. */
export function parseHeldKeys(request: HealthRequest__Output): {
  readonly keys: ConfigAddress[];
  readonly scope: PushScope;
} {
  const keys = request.keys.map((key, index) => parseAddress(key, `keys[${index}].`));
  return { keys, scope: { op: 'health', keysHash: keysHash(keys) } };
}

export function parseAddress(
  message: { readonly tenant_id: string; readonly key: string; readonly service: string },
  fieldPrefix: string,
): ConfigAddress {
  const tenantField = `${fieldPrefix}tenant_id`;
  if (!message.tenant_id) throw new InvalidArgumentError(`${tenantField} is required`, tenantField);
  if (!isTenantId(message.tenant_id)) {
    throw new InvalidArgumentError(`${tenantField} is not a valid tenant id`, tenantField);
  }
  atField(`${fieldPrefix}key`, () => assertConfigKey(message.key));
  if (!message.service) return { tenantId: message.tenant_id, key: message.key };
  atField(`${fieldPrefix}service`, () => assertServiceName(message.service));
  return { tenantId: message.tenant_id, key: message.key, service: message.service };
}

/** Runs a shared check; inside a Health request, its error names which of the keys is at fault. */
function atField(field: string, check: () => void): void {
  try {
    check();
  } catch (error) {
    if (error instanceof PlatformError && error.field !== field) {
      throw new InvalidArgumentError(error.message, field);
    }
    throw error;
  }
}

export function nonNegativeInteger(value: number, field: string): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new InvalidArgumentError(`${field} must be a non-negative integer`, field);
  }
  return value;
}
