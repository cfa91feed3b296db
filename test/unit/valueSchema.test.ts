import { InvalidArgumentError, SchemaViolationError } from '../../common/errors';
import type { ValueFormat } from '../../common/configAddress';
import { MAX_SCHEMA_BYTES, schemaText, ValueSchemaChecker } from '../../activities/storage/valueSchema';

/** The checker each schema thread runs (schemaWorker.ts), called here on the test's own thread. */
const checker = new ValueSchemaChecker(500);
const compileValueSchema = (schema: unknown) => checker.compile(schema);
const assertMatchesSchema = (key: string, format: ValueFormat, value: string, schema: unknown) =>
  checker.assertMatches(key, format, value, schemaText(schema));
import { thrownBy } from '../support/thrown';

const FLAGS_SCHEMA = {
  type: 'object',
  properties: { newCheckout: { type: 'boolean' }, plan: { enum: ['free', 'pro'] } },
  required: ['newCheckout'],
  additionalProperties: false,
};

const violationOf = (run: () => void) => thrownBy(run, SchemaViolationError);

describe('value schemas', () => {
  test('a JSON value that matches passes', () => {
    expect(() =>
      assertMatchesSchema('tenant_config_flags', 'json', '{"newCheckout":true,"plan":"pro"}', FLAGS_SCHEMA),
    ).not.toThrow();
  });

  test('a JSON value that breaks rules names every rule and where, on the value field', () => {
    const violation = violationOf(() =>
      assertMatchesSchema(
        'tenant_config_flags',
        'json',
        '{"newCheckout":"yes","plan":"gold","extra":1}',
        FLAGS_SCHEMA,
      ),
    );
    expect(violation.field).toBe('value');
    expect(violation.violations).toEqual([
      '(the value) must NOT have additional properties "extra"',
      '/newCheckout must be boolean',
      '/plan must be equal to one of the allowed values ["free","pro"]',
    ]);
    expect(violation.message).toBe(
      'value of "tenant_config_flags" does not match its schema: (the value) must NOT have additional properties "extra"; ' +
        '/newCheckout must be boolean; /plan must be equal to one of the allowed values ["free","pro"]',
    );
  });

  test('many violations are named up to five, the rest counted', () => {
    const schema = { type: 'array', items: { type: 'integer' } };
    const violation = violationOf(() =>
      assertMatchesSchema('tenant_config_ids', 'json', '["a","b","c","d","e","f","g"]', schema),
    );
    expect(violation.violations).toHaveLength(6);
    expect(violation.violations.at(-1)).toBe('and 2 more');
  });

  test("a text key's value is checked as a string", () => {
    const schema = { type: 'string', format: 'uri', pattern: '^https://' };
    expect(() =>
      assertMatchesSchema('param_config_endpoint', 'text', 'https://orders.example/v2', schema),
    ).not.toThrow();
    expect(
      violationOf(() => assertMatchesSchema('param_config_endpoint', 'text', 'http://orders.example', schema))
        .violations,
    ).toEqual(['(the value) must match pattern "^https://"']);
  });

  test('draft-07 is used when the schema says so, 2020-12 otherwise', () => {
    // An array of `items` is a tuple in draft-07 and an error in 2020-12 (which has `prefixItems`).
    const tuple = {
      $schema: 'http://json-schema.org/draft-07/schema#',
      type: 'array',
      items: [{ type: 'string' }, { type: 'integer' }],
    };
    expect(() => assertMatchesSchema('tenant_config_pair', 'json', '["a",1]', tuple)).not.toThrow();
    expect(
      violationOf(() => assertMatchesSchema('tenant_config_pair', 'json', '["a","b"]', tuple)).violations,
    ).toEqual(['/1 must be integer']);
    const { $schema: _, ...asDefault } = tuple;
    expect(() => compileValueSchema(asDefault)).toThrow(/items must be object,boolean/);
  });

  test('rules need no `type` beside them', () => {
    expect(() => compileValueSchema({ properties: { a: { minimum: 1 } }, required: ['a'] })).not.toThrow();
  });

  test.each([
    ['not an object', 'a string', /must be a JSON Schema object/],
    ['an array', [], /must be a JSON Schema object/],
    ['a keyword typo (strict mode)', { type: 'object', propertys: {} }, /unknown keyword: "propertys"/],
    ['a wrong type name', { type: 'bool' }, /not a usable JSON Schema/],
    ['a reference to fetch', { $ref: 'https://schemas.example/flags.json' }, /can't resolve reference/],
    ['too big', { description: 'x'.repeat(MAX_SCHEMA_BYTES) }, /at most 65536 bytes/],
  ])('a schema that is %s is refused, naming the schema field', (_what, schema, message) => {
    let refused: unknown;
    try {
      compileValueSchema(schema);
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(InvalidArgumentError);
    expect((refused as InvalidArgumentError).field).toBe('schema');
    expect((refused as Error).message).toMatch(message);
  });

  test('a pattern that backtracks catastrophically elsewhere is checked in linear time, so it answers', () => {
    // ECMAScript's engine takes exponential time on this pair; RE2 answers at once. A test that
    // cannot finish is the failure this guards against.
    const schema = { type: 'string', pattern: '^(a|aa)+$' };
    const value = `${'a'.repeat(100_000)}!`;
    expect(
      violationOf(() => assertMatchesSchema('param_config_code', 'text', value, schema)).violations,
    ).toEqual(['(the value) must match pattern "^(a|aa)+$"']);
    expect(() => assertMatchesSchema('param_config_code', 'text', 'aaaa', schema)).not.toThrow();
  });

  test('patterns that need backtracking (lookarounds, backreferences) are refused when the schema is set', () => {
    expect(() => compileValueSchema({ type: 'string', pattern: '^(?!admin)' })).toThrow(
      /not a usable JSON Schema: .*invalid or unsupported Perl syntax/,
    );
    expect(() => compileValueSchema({ patternProperties: { '^(a)\\1$': {} } })).toThrow(
      /not a usable JSON Schema/,
    );
  });

  test('a patternProperties pattern beside properties is never run by the backtracking engine', () => {
    // Ajv's default compile-time check runs this pattern natively on the property name: it never returns.
    const schema = {
      properties: { [`${'a'.repeat(64)}!`]: {} },
      patternProperties: { '^(a+)+$': { type: 'string' } },
    };
    expect(() => compileValueSchema(schema)).not.toThrow();
    expect(
      violationOf(() => assertMatchesSchema('tenant_config_x', 'json', '{"aaa":1}', schema)).violations,
    ).toEqual(['/aaa must be string']);
  });

  test('surrogate pairs and \\u{...} escapes are whole characters, as with the u flag', () => {
    const emoji = { type: 'string', pattern: '^\\uD83D\\uDE00[\\uD83D\\uDE01-\\uD83D\\uDE4F]\\u{1F680}$' };
    expect(() => assertMatchesSchema('param_config_mood', 'text', '😀😃🚀', emoji)).not.toThrow();
    expect(() => assertMatchesSchema('param_config_mood', 'text', '😀😀🚀', emoji)).toThrow(
      SchemaViolationError,
    );
  });

  test('patterns written with \\u escapes, as JSON Schema allows, work', () => {
    const schema = { type: 'string', pattern: '^caf\\u00e9\\\\u$' };
    expect(() => assertMatchesSchema('param_config_name', 'text', 'café\\u', schema)).not.toThrow();
    expect(() => assertMatchesSchema('param_config_name', 'text', 'cafe\\u', schema)).toThrow(
      SchemaViolationError,
    );
  });

  test("a schema's patterns together may not compile to more than 100,000 RE2 instructions", () => {
    const patternProperties = Object.fromEntries(
      Array.from({ length: 120 }, (_, i) => [`^(?:\\w{30}){30}${i}$`, {}]),
    );
    expect(() => compileValueSchema({ patternProperties })).toThrow(
      /not a usable JSON Schema: its patterns are too large/,
    );
    expect(() =>
      compileValueSchema({
        patternProperties: Object.fromEntries(Object.entries(patternProperties).slice(0, 50)),
      }),
    ).not.toThrow();
  });

  test('formats keep their full checks, but those that backtrack check the shape only', () => {
    const date = { type: 'string', format: 'date' };
    expect(() => assertMatchesSchema('param_config_day', 'text', '2024-19-39', date)).toThrow(
      SchemaViolationError,
    );
    expect(() => assertMatchesSchema('param_config_day', 'text', '2024-02-29', date)).not.toThrow();
    const url = { type: 'string', format: 'url' };
    expect(() =>
      assertMatchesSchema('param_config_hook', 'text', 'https://hooks.example:8443/v2?x=1', url),
    ).not.toThrow();
    expect(() => assertMatchesSchema('param_config_hook', 'text', 'hooks.example/v2', url)).toThrow(
      SchemaViolationError,
    );
    // ajv-formats' own `url` expression takes time quadratic in this value (minutes at this length).
    expect(() =>
      assertMatchesSchema('param_config_hook', 'text', `http://${'a:'.repeat(150_000)} `, url),
    ).toThrow(SchemaViolationError);
    const email = { type: 'string', format: 'email' };
    expect(() => assertMatchesSchema('param_config_owner', 'text', 'ops@acme.example', email)).not.toThrow();
  });

  test('a pattern used in many places counts once against the budget', () => {
    const pattern = '^(?:\\w{30}){30}$';
    const properties = Object.fromEntries(
      Array.from({ length: 500 }, (_, i) => [`p${i}`, { type: 'string', pattern }]),
    );
    expect(() => compileValueSchema({ properties })).not.toThrow();
  });

  test('a definition referenced many times is compiled once, not copied into every place', () => {
    // 400 properties referenced 1,500 times: copied inline, this needs gigabytes (Ajv's default ran
    // out of memory on it); compiled once, the generated code stays small.
    const big = Object.fromEntries(
      Array.from({ length: 400 }, (_, i) => [`p${i}`, { type: 'string', maxLength: 10 }]),
    );
    const properties = Object.fromEntries(
      Array.from({ length: 1500 }, (_, i) => [`r${i}`, { $ref: '#/$defs/big' }]),
    );
    const validate = compileValueSchema({ $defs: { big: { type: 'object', properties: big } }, properties });
    expect(validate.toString().length).toBeLessThan(1_000_000);
    expect(validate({ r7: { p3: 'x'.repeat(11) } })).toBe(false);
    expect(validate.errors?.[0]).toMatchObject({ instancePath: '/r7/p3', keyword: 'maxLength' });
  });

  test("one schema's $id is invisible to another: no reference crosses between schemas", () => {
    compileValueSchema({ $id: 'https://tenant-a.example/flags', type: 'object' });
    // Same $id, other rules: compiles on its own (no clash) and applies its own rules.
    const other = { $id: 'https://tenant-a.example/flags', type: 'array' };
    expect(() => assertMatchesSchema('tenant_config_x', 'json', '[]', other)).not.toThrow();
    // Referring to another schema's $id resolves to nothing.
    expect(() => compileValueSchema({ $ref: 'https://tenant-a.example/flags' })).toThrow(
      /can't resolve reference/,
    );
  });

  test('uniqueItems finds equal documents whatever their key order, and never conflates types', () => {
    const schema = { uniqueItems: true };
    expect(
      violationOf(() =>
        assertMatchesSchema(
          'tenant_config_x',
          'json',
          '[{"a":1,"b":[2,{"c":null}]},[1],{"b":[2,{"c":null}],"a":1}]',
          schema,
        ),
      ).violations,
    ).toEqual(['(the value) must NOT have duplicate items (items ## 0 and 2 are identical)']);
    expect(() =>
      assertMatchesSchema(
        'tenant_config_x',
        'json',
        '[1,"1",true,"true",null,"null",[1],{"1":1},[[1]],{"a":[1]},{"a":[[1]]}]',
        schema,
      ),
    ).not.toThrow();
    const long = 'x'.repeat(1000);
    expect(() =>
      assertMatchesSchema('tenant_config_x', 'json', JSON.stringify([long, `${long}y`]), schema),
    ).not.toThrow();
    expect(() =>
      assertMatchesSchema('tenant_config_x', 'json', JSON.stringify([[long], [long]]), schema),
    ).toThrow(SchemaViolationError);
    expect(() => assertMatchesSchema('tenant_config_x', 'json', '[1.0,1]', schema)).toThrow(
      SchemaViolationError,
    );
  });

  test('a schema or value nested past 100 levels is refused on its field, before anything recursive runs', () => {
    const deep = (depth: number) => `${'{"not":'.repeat(depth - 1)}{}${'}'.repeat(depth - 1)}`;
    expect(() => compileValueSchema(JSON.parse(deep(100)))).not.toThrow();
    expect(() => compileValueSchema(JSON.parse(deep(101)))).toThrow(
      new InvalidArgumentError('schema must nest at most 100 levels deep', 'schema'),
    );
    expect(() => compileValueSchema(JSON.parse(deep(8000)))).toThrow(InvalidArgumentError);
    const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
    expect(() => assertMatchesSchema('tenant_config_x', 'json', nested(100), {})).not.toThrow();
    const refused = (() => {
      try {
        assertMatchesSchema('tenant_config_x', 'json', nested(101), {});
      } catch (error) {
        return error as InvalidArgumentError;
      }
    })();
    expect(refused).toMatchObject({
      field: 'value',
      message: expect.stringMatching(/at most 100 levels deep/) as unknown,
    });
    // Brackets inside strings are text, not nesting.
    expect(() =>
      assertMatchesSchema('tenant_config_x', 'json', JSON.stringify(['['.repeat(500)]), {}),
    ).not.toThrow();
  });
});
