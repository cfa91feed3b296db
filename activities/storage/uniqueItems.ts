import type { FuncKeywordDefinition, SchemaValidateFunction } from 'ajv';
import { createHash } from 'node:crypto';

/**
 * `uniqueItems` in time linear in the array's size. Ajv's own compares items that are not all scalars
 * pair by pair with a deep equality: one 149 KB array of small distinct objects kept a thread busy for
 * 19 s. Here each item gets an identity (its canonical JSON, hashed where long), and a duplicate is a
 * repeated identity: equal exactly when Ajv's deep equality says so for JSON data (key order ignored).
 */
const uniqueItems: SchemaValidateFunction = (unique: boolean, data: readonly unknown[]): boolean => {
  if (!unique) return true;
  const seen = new Map<string, number>();
  for (let i = 0; i < data.length; i++) {
    const identity = identityOf(data[i]);
    const j = seen.get(identity);
    if (j !== undefined) {
      uniqueItems.errors = [
        {
          keyword: 'uniqueItems',
          params: { i, j },
          message: `must NOT have duplicate items (items ## ${j} and ${i} are identical)`,
        },
      ];
      return false;
    }
    seen.set(identity, i);
  }
  return true;
};

export const uniqueItemsKeyword: FuncKeywordDefinition = {
  keyword: 'uniqueItems',
  type: 'array',
  schemaType: 'boolean',
  errors: true,
  validate: uniqueItems,
};

/** Strings longer than this are stood for by their hash, so map keys stay short whatever the value. */
const LONGEST_PLAIN_STRING = 64;

/**
 * Arrays and objects are hashed from their items' identities, never re-serialised: an `allOf` that
 * checks the same nested array many times, or nested arrays each with `uniqueItems`, hash each part once.
 */
const identities = new WeakMap<object, string>();

function identityOf(value: unknown): string {
  if (typeof value === 'string') {
    return value.length > LONGEST_PLAIN_STRING ? `s${digest(value)}` : JSON.stringify(value);
  }
  if (typeof value !== 'object' || value === null) return String(value);
  const known = identities.get(value);
  if (known) return known;
  const identity = Array.isArray(value)
    ? `a${digest(value.map(identityOf).join(','))}`
    : `o${digest(
        Object.keys(value)
          .sort()
          .map((name) => `${JSON.stringify(name)}:${identityOf((value as Record<string, unknown>)[name])}`)
          .join(','),
      )}`;
  identities.set(value, identity);
  return identity;
}

function digest(text: string): string {
  return createHash('sha256').update(text).digest('base64');
}
