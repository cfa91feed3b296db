import { SchemaPool } from '../../activities/storage/schemaPool';
import {
  BackendUnavailableError,
  InvalidArgumentError,
  SchemaBudgetExceededError,
  SchemaViolationError,
} from '../../common/errors';
import type { SchemaEvaluationSettings } from '../../common/settings';
import { distinctArrays, multipliedUniqueItems, nestedSchemaJson } from '../support/expensiveSchemas';

/**
 * The schema pool on real worker threads (no fakes: the threads run the same checker as production).
 * Budgets are short so that a job that never ends is cut off quickly; no assertion is about time.
 */
const SETTINGS: SchemaEvaluationSettings = {
  threads: 1,
  budgetMs: 1000,
  memoryMb: 64,
  cacheEntries: 10,
  queuePerTenant: 4,
};
const FLAGS = { type: 'object', properties: { on: { type: 'boolean' } }, required: ['on'] };
const NEVER_ENDS = multipliedUniqueItems();
const LONG_ARRAY = distinctArrays(2000);

const pools: SchemaPool[] = [];
function pool(settings: Partial<SchemaEvaluationSettings> = {}, script?: string): SchemaPool {
  const created = new SchemaPool({ ...SETTINGS, ...settings }, script);
  pools.push(created);
  return created;
}

afterEach(async () => {
  await Promise.all(pools.splice(0).map((created) => created.close()));
});

/** The error a promise rejects with (failing the test if it resolves). */
async function refusal(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => {
      throw new Error('expected a refusal');
    },
    (error: unknown) => error as Error,
  );
}

test('a thread passes a matching value and refuses a broken one, naming the rules as in-process', async () => {
  const schemas = pool();
  await expect(schemas.validate('t1', 'tenant_config_flags', 'json', '{"on":true}', FLAGS)).resolves.toBe(
    undefined,
  );
  const refused = await refusal(schemas.validate('t1', 'tenant_config_flags', 'json', '{"on":1}', FLAGS));
  expect(refused).toBeInstanceOf(SchemaViolationError);
  expect(refused).toMatchObject({ field: 'value', violations: ['/on must be boolean'] });
  expect(schemas.stats()).toEqual({ checks: 0, validations: 2, overBudget: 0 });
});

test('a schema that does not compile is refused on the schema field', async () => {
  const refused = await refusal(pool().check('t1', { type: 'bool' }));
  expect(refused).toBeInstanceOf(InvalidArgumentError);
  expect(refused).toMatchObject({
    field: 'schema',
    message: expect.stringMatching(/not a usable JSON Schema/) as unknown,
  });
});

test('a schema nested 8,000 deep is refused before it reaches a thread, on the schema field', async () => {
  const schemas = pool();
  const refused = await refusal(schemas.check('t1', JSON.parse(nestedSchemaJson(8000))));
  expect(refused).toBeInstanceOf(InvalidArgumentError);
  expect(refused).toMatchObject({ field: 'schema', message: 'schema must nest at most 100 levels deep' });
  expect(schemas.stats().checks).toBe(0);
});

test('a value nested deeper than 100 levels is refused on the value field', async () => {
  const deep = `${'['.repeat(101)}${']'.repeat(101)}`;
  const refused = await refusal(pool().validate('t1', 'tenant_config_x', 'json', deep, {}));
  expect(refused).toBeInstanceOf(InvalidArgumentError);
  expect(refused).toMatchObject({
    field: 'value',
    message: expect.stringMatching(/at most 100 levels/) as unknown,
  });
});

test('a job past its budget ends with its thread, naming the field; a fresh thread takes the next job', async () => {
  const schemas = pool();
  const refused = await refusal(schemas.validate('t1', 'tenant_config_x', 'json', LONG_ARRAY, NEVER_ENDS));
  expect(refused).toBeInstanceOf(SchemaBudgetExceededError);
  expect(refused).toMatchObject({
    code: 'SchemaBudgetExceeded',
    field: 'value',
    message: 'schema evaluation exceeded its budget of 1000 ms while checking the value against its schema',
  });
  await expect(schemas.validate('t1', 'tenant_config_flags', 'json', '{"on":true}', FLAGS)).resolves.toBe(
    undefined,
  );
  expect(schemas.stats()).toEqual({ checks: 0, validations: 2, overBudget: 1 });
});

test("tenants take turns: another tenant's check runs before the rest of one tenant's queue", async () => {
  const schemas = pool();
  const finished: string[] = [];
  const track = (name: string, job: Promise<void>) =>
    job.then(
      () => finished.push(`${name} passed`),
      (error: Error) => finished.push(`${name} ${error.name}`),
    );
  const slow = (n: number) =>
    track(`a${n}`, schemas.validate('tenant-a', 'tenant_config_x', 'json', LONG_ARRAY, NEVER_ENDS));
  const jobs = [slow(1), slow(2), slow(3)];
  jobs.push(track('b1', schemas.validate('tenant-b', 'tenant_config_flags', 'json', '{"on":true}', FLAGS)));
  await Promise.all(jobs);
  expect(finished).toEqual([
    'a1 SchemaBudgetExceededError',
    'b1 passed',
    'a2 SchemaBudgetExceededError',
    'a3 SchemaBudgetExceededError',
  ]);
});

test("a tenant with a full queue is told to retry; other tenants' checks are still taken", async () => {
  const schemas = pool({ queuePerTenant: 2 });
  const waiting = [1, 2].map(() =>
    refusal(schemas.validate('tenant-a', 'tenant_config_x', 'json', LONG_ARRAY, NEVER_ENDS)),
  );
  const refused = await refusal(schemas.validate('tenant-a', 'tenant_config_flags', 'json', '{}', FLAGS));
  expect(refused).toBeInstanceOf(BackendUnavailableError);
  expect(refused.message).toMatch(/2 schema checks of this tenant are already waiting/);
  await expect(
    schemas.validate('tenant-b', 'tenant_config_flags', 'json', '{"on":true}', FLAGS),
  ).resolves.toBe(undefined);
  await Promise.all(waiting);
});

test('a thread past its memory budget ends with the same refusal, naming the memory', async () => {
  // Each distinct big schema stays compiled in the thread's cache, until its heap is full.
  const schemas = pool({ memoryMb: 32, cacheEntries: 10_000, budgetMs: 60_000 });
  const bigSchema = (n: number) => ({
    properties: Object.fromEntries(
      Array.from({ length: 1000 }, (_, i) => [
        `p${n}_${i}`,
        { type: 'string', maxLength: i, pattern: `^${i}` },
      ]),
    ),
  });
  let refused: Error | undefined;
  for (let n = 0; n < 200 && !refused; n++) {
    refused = await schemas.check('t1', bigSchema(n)).then(
      () => undefined,
      (error: Error) => error,
    );
  }
  expect(refused).toBeInstanceOf(SchemaBudgetExceededError);
  expect(refused).toMatchObject({
    field: 'schema',
    message: expect.stringMatching(/budget of 32 MB of memory/) as unknown,
  });
  expect(schemas.stats().overBudget).toBe(1);
});

test('a thread that cannot start refuses the waiting jobs instead of leaving them waiting', async () => {
  const refused = await refusal(
    pool({}, '/nonexistent/schemaWorker.js').validate('t1', 'tenant_config_flags', 'json', '{}', FLAGS),
  );
  expect(refused.message).toMatch(/schema evaluation thread failed to start/);
});

test('closing the pool refuses what still waits', async () => {
  const schemas = pool();
  const running = refusal(schemas.validate('t1', 'tenant_config_x', 'json', LONG_ARRAY, NEVER_ENDS));
  const waiting = refusal(schemas.validate('t1', 'tenant_config_flags', 'json', '{"on":true}', FLAGS));
  await schemas.close();
  expect(await waiting).toBeInstanceOf(BackendUnavailableError);
  expect(await running).toBeInstanceOf(BackendUnavailableError);
});
