import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import type { RegExpEngine, RegExpLike } from 'ajv/dist/types';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { fastFormats } from 'ajv-formats/dist/formats';
import { RE2JS } from 're2js';
import { InvalidArgumentError, SchemaViolationError, errorMessage } from '../../common/errors';
import type { ValueFormat } from '../../common/configAddress';
import { uniqueItemsKeyword } from './uniqueItems';

/** Big enough for any real config schema, small enough that a schema item stays far under DynamoDB's 400 KB. */
export const MAX_SCHEMA_BYTES = 64 * 1024;
/** A value that breaks many rules gets the first few named; the rest only counted. */
const MAX_REPORTED_VIOLATIONS = 5;
/**
 * Far deeper than any real schema or config document, far shallower than what overflows the stack of
 * JSON.stringify or Ajv (both recurse; a schema nested 8,000 deep overflowed them).
 */
export const MAX_SCHEMA_DEPTH = 100;
export const MAX_VALUE_DEPTH = 100;
/** The largest value any backend stores (DynamoDB's item limit), as a bound on what a check is given. */
export const MAX_EVALUATED_VALUE_BYTES = 400 * 1024;
const DRAFT_07 = 'http://json-schema.org/draft-07/schema';

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
  ajv.removeKeyword('uniqueItems');
  ajv.addKeyword(uniqueItemsKeyword);
  return ajv;
}

/**
 * Compiles schemas and checks values against them, keeping the newest compiled schemas: compiling costs
 * milliseconds to a second and every write of a key checks its schema. One lives in each evaluation
 * thread (schemaWorker.ts), so the bound is per thread.
 */
export class ValueSchemaChecker {
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor(private readonly cacheEntries: number) {}

  /** Compiles a schema a release manager registers; an unusable one is refused naming what is wrong. */
  compile(schema: unknown): ValidateFunction {
    return this.compileText(schemaText(schema));
  }

  /** The same, from the schema's JSON as schemaText gives it (what crosses into a worker thread). */
  compileText(text: string): ValidateFunction {
    const cached = this.compiled.get(text);
    if (cached) return cached;
    const schema = JSON.parse(text) as object;
    let validate: ValidateFunction;
    try {
      validate = newValidator(schema).compile(schema);
    } catch (error) {
      throw new InvalidArgumentError(`schema is not a usable JSON Schema: ${errorMessage(error)}`, 'schema');
    }
    if (this.compiled.size >= this.cacheEntries) this.compiled.delete(this.compiled.keys().next().value!);
    this.compiled.set(text, validate);
    return validate;
  }

  /**
   * Checks a value against its key's schema: a JSON key's value as the document it parses to, a text
   * key's value as a string (so `pattern`, `format` or `enum` rules apply to it).
   */
  assertMatches(key: string, format: ValueFormat, value: string, schemaJson: string): void {
    const validate = this.compileText(schemaJson);
    if (format === 'json') assertValueDepth(value);
    const document: unknown = format === 'json' ? JSON.parse(value) : value;
    if (validate(document)) return;
    const errors = validate.errors ?? [];
    const named = errors.slice(0, MAX_REPORTED_VIOLATIONS).map(describeViolation);
    if (errors.length > named.length) named.push(`and ${errors.length - named.length} more`);
    throw new SchemaViolationError(key, named);
  }
}

/**
 * A schema as the JSON that is stored, cached on and sent to an evaluation thread, once it is known to
 * be an object within MAX_SCHEMA_BYTES and MAX_SCHEMA_DEPTH: measured without recursion before
 * anything recursive (JSON.stringify, Ajv) touches it.
 */
export function schemaText(schema: unknown): string {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
    throw new InvalidArgumentError('schema must be a JSON Schema object', 'schema');
  }
  assertSchemaShape(schema);
  const text = JSON.stringify(schema);
  if (Buffer.byteLength(text, 'utf8') > MAX_SCHEMA_BYTES) {
    throw new InvalidArgumentError(`schema must be at most ${MAX_SCHEMA_BYTES} bytes of JSON`, 'schema');
  }
  return text;
}

/**
 * Walks the parsed schema with a stack of its own. Every JSON node takes at least one byte, so a schema
 * of more nodes than MAX_SCHEMA_BYTES is too large whatever its text: the walk stops there.
 */
function assertSchemaShape(schema: object): void {
  const pending: [unknown, number][] = [[schema, 1]];
  let nodes = 0;
  while (pending.length > 0) {
    const [node, depth] = pending.pop()!;
    if (++nodes > MAX_SCHEMA_BYTES) {
      throw new InvalidArgumentError(`schema must be at most ${MAX_SCHEMA_BYTES} bytes of JSON`, 'schema');
    }
    if (typeof node !== 'object' || node === null) continue;
    if (depth > MAX_SCHEMA_DEPTH) {
      throw new InvalidArgumentError(`schema must nest at most ${MAX_SCHEMA_DEPTH} levels deep`, 'schema');
    }
    for (const child of Object.values(node)) pending.push([child, depth + 1]);
  }
}

/** Counts brackets outside strings: a JSON document's nesting, in one pass and no recursion. */
function assertValueDepth(json: string): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < json.length; i++) {
    const char = json.charCodeAt(i);
    if (inString) {
      if (char === BACKSLASH) i++;
      else if (char === QUOTE) inString = false;
    } else if (char === QUOTE) inString = true;
    else if (char === OPEN_BRACE || char === OPEN_BRACKET) {
      if (++depth > MAX_VALUE_DEPTH) {
        throw new InvalidArgumentError(
          `value must nest at most ${MAX_VALUE_DEPTH} levels deep to be checked against its schema`,
          'value',
        );
      }
    } else if (char === CLOSE_BRACE || char === CLOSE_BRACKET) depth--;
  }
}

const [QUOTE, BACKSLASH, OPEN_BRACE, CLOSE_BRACE, OPEN_BRACKET, CLOSE_BRACKET] = [...'"\\{}[]'].map((c) =>
  c.charCodeAt(0),
);

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
