import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import type { RegExpEngine, RegExpLike } from 'ajv/dist/types';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { RE2JS } from 're2js';
import { InvalidArgumentError, SchemaViolationError } from '../../common/errors';
import type { ValueFormat } from './types';

/** Big enough for any real config schema, small enough that a schema item stays far under DynamoDB's 400 KB. */
export const MAX_SCHEMA_BYTES = 64 * 1024;
/** A value that breaks many rules gets the first few named; the rest only counted. */
const MAX_REPORTED_VIOLATIONS = 5;
const DRAFT_07 = 'http://json-schema.org/draft-07/schema';
const COMPILED_CACHE_LIMIT = 500;
/** Far above any real schema's patterns (`^[A-Z]{3}$` is 7), far below what exhausts memory. */
const MAX_PATTERN_INSTRUCTIONS = 100_000;

/**
 * JSON Schema (2020-12 by default, draft-07 when the schema's `$schema` says so) refusing unknown
 * keywords, so a typo is an error when the schema is set rather than a rule silently not checked.
 * Each schema gets its own Ajv instance: an `$id` or `$ref` can never reach another tenant's schema, and
 * references resolve only inside the schema, so nothing is ever fetched.
 */
function newValidator(schema: object): Ajv {
  const draft = (schema as { $schema?: unknown }).$schema;
  // Unknown keywords are errors; rules without a `type` beside them are fine, as the standard has it.
  // A referenced definition is compiled once, never copied into each place that refers to it: a small
  // schema must not grow into megabytes of generated code.
  // Ajv's check that `patternProperties` do not match `properties` runs the tenant's pattern with the
  // backtracking engine at compile time: it is left out.
  const options = {
    allErrors: true,
    strictSchema: true,
    strictNumbers: true,
    strictTypes: false,
    strictTuples: false,
    allowMatchingProperties: true,
    inlineRefs: false,
    code: { regExp: linearTimeRegExps() },
    logger: false,
  } as const;
  const ajv =
    typeof draft === 'string' && draft.replace(/#$/, '') === DRAFT_07
      ? new Ajv(options)
      : new Ajv2020(options);
  // The fast formats' expressions are simple; the full ones (`uri`, `url`) backtrack on long values.
  return addFormats(ajv, { mode: 'fast' });
}

const compiled = new Map<string, ValidateFunction>();

/** Compiles a schema a release manager registers; an unusable one is refused naming what is wrong. */
export function compileValueSchema(schema: unknown): ValidateFunction {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
    throw new InvalidArgumentError('schema must be a JSON Schema object', 'schema');
  }
  const text = JSON.stringify(schema);
  if (Buffer.byteLength(text, 'utf8') > MAX_SCHEMA_BYTES) {
    throw new InvalidArgumentError(`schema must be at most ${MAX_SCHEMA_BYTES} bytes of JSON`, 'schema');
  }
  const cached = compiled.get(text);
  if (cached) return cached;
  let validate: ValidateFunction;
  try {
    validate = newValidator(schema).compile(schema);
  } catch (error) {
    throw new InvalidArgumentError(
      `schema is not a usable JSON Schema: ${error instanceof Error ? error.message : String(error)}`,
      'schema',
    );
  }
  // Compiling costs milliseconds and every write of the key checks its schema: keep the newest few hundred.
  if (compiled.size >= COMPILED_CACHE_LIMIT) compiled.delete(compiled.keys().next().value!);
  compiled.set(text, validate);
  return validate;
}

/**
 * Checks a value against its key's schema: a JSON key's value as the document it parses to, a text
 * key's value as a string (so `pattern`, `format` or `enum` rules apply to it).
 */
export function assertMatchesSchema(key: string, format: ValueFormat, value: string, schema: unknown): void {
  const validate = compileValueSchema(schema);
  const document: unknown = format === 'json' ? JSON.parse(value) : value;
  if (validate(document)) return;
  const errors = validate.errors ?? [];
  const named = errors.slice(0, MAX_REPORTED_VIOLATIONS).map(describeViolation);
  if (errors.length > named.length) named.push(`and ${errors.length - named.length} more`);
  throw new SchemaViolationError(key, named);
}

/**
 * `pattern`, `patternProperties` and `propertyNames` patterns run on RE2's linear-time engine: checks run
 * in the shared config service and worker, and with a backtracking engine one tenant's `^(a|aa)+$` and a
 * crafted value would stall them for everyone. RE2 refuses what needs backtracking (lookarounds,
 * backreferences) when the schema is set, and one schema's patterns together may compile to at most
 * MAX_PATTERN_INSTRUCTIONS, so a schema of huge repetitions cannot exhaust memory either.
 */
function linearTimeRegExps(): RegExpEngine {
  let instructions = 0;
  return Object.assign(
    (pattern: string): RegExpLike => {
      const compiled = RE2JS.compile(withRe2UnicodeEscapes(pattern));
      instructions += compiled.programSize();
      if (instructions > MAX_PATTERN_INSTRUCTIONS) {
        throw new Error(
          `its patterns are too large (over ${MAX_PATTERN_INSTRUCTIONS} RE2 instructions together)`,
        );
      }
      // Ajv shares one compiled pattern per distinct `toString()`.
      return { test: (text: string) => compiled.test(text), toString: () => `/${pattern}/` } as RegExpLike;
    },
    // What Ajv's standalone code generation would print; nothing here generates standalone code.
    { code: 'linearTimeRegExp' },
  );
}

/** JSON Schema patterns are ECMAScript's, which write `\u00e9`; RE2 writes `\x{00e9}`. */
function withRe2UnicodeEscapes(pattern: string): string {
  return pattern.replace(/(?<!\\)((?:\\\\)*)\\u([0-9a-fA-F]{4})/g, '$1\\x{$2}');
}

function describeViolation(error: ErrorObject): string {
  const where = error.instancePath === '' ? '(the value)' : error.instancePath;
  const extra =
    error.keyword === 'additionalProperties'
      ? ` "${String((error.params as { additionalProperty?: unknown }).additionalProperty)}"`
      : error.keyword === 'enum'
        ? ` ${JSON.stringify((error.params as { allowedValues?: unknown }).allowedValues)}`
        : '';
  return `${where} ${error.message ?? 'is invalid'}${extra}`;
}
