import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import type { RegExpEngine, RegExpLike } from 'ajv/dist/types';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { fastFormats } from 'ajv-formats/dist/formats';
import { RE2JS } from 're2js';
import { InvalidArgumentError, SchemaViolationError } from '../../common/errors';
import type { ValueFormat } from './types';

/** Big enough for any real config schema, small enough that a schema item stays far under DynamoDB's 400 KB. */
export const MAX_SCHEMA_BYTES = 64 * 1024;
/** A value that breaks many rules gets the first few named; the rest only counted. */
const MAX_REPORTED_VIOLATIONS = 5;
const DRAFT_07 = 'http://json-schema.org/draft-07/schema';
const COMPILED_CACHE_LIMIT = 500;

/**
 * Formats whose ajv-formats expressions backtrack on long values (`url` takes seconds on a few kilobytes
 * of `a:a:a:`), checked for their shape on RE2 instead: ajv-formats' fast expressions, and for `url`
 * (whose expressions need lookarounds) scheme, host and the rest.
 */
const LINEAR_FORMATS: ReadonlyMap<string, (text: string) => boolean> = new Map(
  Object.entries({
    uri: (fastFormats.uri as RegExp).source,
    'uri-reference': (fastFormats['uri-reference'] as RegExp).source,
    email: (fastFormats.email as RegExp).source,
    url: String.raw`^(?:https?|ftp)://(?:[^\s@/?#]+@)?[^\s@/?#:]+(?::\d{2,5})?(?:[/?#]\S*)?$`,
  }).map(([name, source]) => {
    const compiled = RE2JS.compile(`(?i)${source}`);
    return [name, (text: string) => compiled.test(text)];
  }),
);
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
  addFormats(ajv);
  for (const [name, check] of LINEAR_FORMATS) ajv.addFormat(name, { type: 'string', validate: check });
  return ajv;
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
  // Ajv asks once per use of a pattern; each distinct pattern is compiled, and counted, once.
  const seen = new Map<string, RegExpLike>();
  return Object.assign(
    (pattern: string): RegExpLike => {
      const known = seen.get(pattern);
      if (known) return known;
      const compiled = RE2JS.compile(withRe2UnicodeEscapes(pattern));
      instructions += compiled.programSize();
      if (instructions > MAX_PATTERN_INSTRUCTIONS) {
        throw new Error(
          `its patterns are too large (over ${MAX_PATTERN_INSTRUCTIONS} RE2 instructions together)`,
        );
      }
      const regExp = {
        test: (text: string) => compiled.test(text),
        toString: () => `/${pattern}/`,
      } as RegExpLike;
      seen.set(pattern, regExp);
      return regExp;
    },
    // What Ajv's standalone code generation would print; nothing here generates standalone code.
    { code: 'linearTimeRegExp' },
  );
}

/** JSON Schema patterns are ECMAScript's, which write `\u00e9`; RE2 writes `\x{00e9}`. */
function withRe2UnicodeEscapes(pattern: string): string {
  // An escape counts only after an even run of backslashes (`\\u0041` is a backslash and `u0041`).
  const escape = (body: string) => new RegExp(String.raw`(?<!\\)((?:\\\\)*)\\u${body}`, 'g');
  const hex = (codePoint: number) => `\\x{${codePoint.toString(16)}}`;
  return (
    pattern
      // A surrogate pair is one character to RE2, which matches whole code points.
      .replace(
        escape('([dD][89abAB][0-9a-fA-F]{2})\\\\u([dD][c-fC-F][0-9a-fA-F]{2})'),
        (_, run: string, high: string, low: string) =>
          `${run}${hex((parseInt(high, 16) - 0xd800) * 0x400 + (parseInt(low, 16) - 0xdc00) + 0x10000)}`,
      )
      .replace(
        escape('\\{([0-9a-fA-F]{1,6})\\}'),
        (_, run: string, code: string) => `${run}${hex(parseInt(code, 16))}`,
      )
      .replace(
        escape('([0-9a-fA-F]{4})'),
        (_, run: string, code: string) => `${run}${hex(parseInt(code, 16))}`,
      )
  );
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
