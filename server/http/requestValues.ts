import { InvalidArgumentError } from '../../common/errors';

/** Query values as the handlers need them; the OpenAPI validator has already checked their shape. */
export function optionalString(value: unknown, field: string): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string')
    throw new InvalidArgumentError(`${field} must be given once, as text`, field);
  return value;
}

export function optionalPositiveInteger(value: unknown, field: string): number | undefined {
  if (typeof value === 'number') return value;
  const text = optionalString(value, field);
  if (text === undefined) return undefined;
  if (!/^[1-9]\d{0,15}$/.test(text))
    throw new InvalidArgumentError(`${field} must be a positive integer`, field);
  return Number(text);
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
