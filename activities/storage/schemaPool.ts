import { existsSync } from 'node:fs';
import path from 'node:path';
import { Worker, type WorkerOptions } from 'node:worker_threads';
import {
  BackendUnavailableError,
  InvalidArgumentError,
  type PlatformError,
  SchemaBudgetExceededError,
  SchemaViolationError,
} from '../../common/errors';
import type { SchemaEvaluationSettings } from '../../common/settings';
import type {
  SchemaJob,
  SchemaJobInput,
  SchemaRefusal,
  SchemaWorkerData,
  SchemaWorkerMessage,
} from './schemaJobs';
import type { ValueFormat } from '../../common/configAddress';
import { MAX_EVALUATED_VALUE_BYTES, schemaText } from './valueSchema';

interface Job {
  readonly id: number;
  readonly tenantId: string;
  readonly input: SchemaJobInput;
  /** What the caller named if the job runs out of budget. */
  readonly field: 'schema' | 'value';
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

interface Slot {
  readonly worker: Worker;
  ready: boolean;
  running?: { readonly job: Job; readonly timer: NodeJS.Timeout };
}

/** What the pool has done since it started: the tests read it, an operator may log it. */
export interface SchemaPoolStats {
  /** Schemas sent to a thread to compile (`PUT /v1/schemas/{key}`). */
  readonly checks: number;
  /** Values sent to a thread to check against their key's schema. */
  readonly validations: number;
  /** Jobs ended past their time or memory budget, each taking its thread with it. */
  readonly overBudget: number;
}

/**
 * Compiles value schemas and checks values against them on a few worker threads, so the event loop that
 * serves every tenant never runs a tenant's schema. Each job gets SCHEMA_EVALUATION_BUDGET_MS; past it
 * the thread is terminated (a fresh one replaces it) and the caller gets SchemaBudgetExceededError
 * naming the schema or the value. Waiting jobs are taken from each tenant in turn, and a tenant may
 * have at most SCHEMA_EVALUATION_QUEUE_PER_TENANT waiting, so one tenant's flood delays only itself.
 * Threads start on the first job, and an idle pool keeps no process alive.
 */
export class SchemaPool {
  private readonly slots: Slot[] = [];
  /** Per tenant, in the order tenants take their turns (a Map keeps insertion order). */
  private readonly waiting = new Map<string, Job[]>();
  private nextId = 1;
  private counts = { checks: 0, validations: 0, overBudget: 0 };

  constructor(
    private readonly settings: SchemaEvaluationSettings,
    private readonly script: string = schemaWorkerScript(),
  ) {}

  /** Refuses a schema that does not compile, naming what is wrong (field `schema`). */
  async check(tenantId: string, schema: unknown): Promise<void> {
    const input = { kind: 'check', schema: schemaText(schema) } as const;
    this.counts.checks++;
    return this.submit(tenantId, input, 'schema');
  }

  /** Refuses a value that breaks its key's schema, naming the broken rules (field `value`). */
  async validate(
    tenantId: string,
    key: string,
    format: ValueFormat,
    value: string,
    schema: unknown,
  ): Promise<void> {
    if (Buffer.byteLength(value, 'utf8') > MAX_EVALUATED_VALUE_BYTES) {
      throw new InvalidArgumentError(
        `value must be at most ${MAX_EVALUATED_VALUE_BYTES} bytes to be checked against its schema`,
        'value',
      );
    }
    const input = { kind: 'validate', schema: schemaText(schema), key, format, value } as const;
    this.counts.validations++;
    return this.submit(tenantId, input, 'value');
  }

  stats(): SchemaPoolStats {
    return { ...this.counts };
  }

  /** Ends every thread; jobs still waiting or running are refused. */
  async close(): Promise<void> {
    const closing = new BackendUnavailableError('schema evaluation is shutting down');
    for (const job of [...this.waiting.values()].flat()) job.reject(closing);
    this.waiting.clear();
    const slots = this.slots.splice(0);
    for (const slot of slots) this.finish(slot, (job) => job.reject(closing));
    await Promise.all(slots.map((slot) => slot.worker.terminate()));
  }

  private submit(tenantId: string, input: SchemaJobInput, field: Job['field']): Promise<void> {
    const queue = this.waiting.get(tenantId) ?? [];
    if (queue.length >= this.settings.queuePerTenant) {
      return Promise.reject(
        new BackendUnavailableError(
          `${queue.length} schema checks of this tenant are already waiting: retry when they are done`,
        ),
      );
    }
    return new Promise<void>((resolve, reject) => {
      queue.push({ id: this.nextId++, tenantId, input, field, resolve, reject });
      this.waiting.set(tenantId, queue);
      this.dispatch();
    });
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (this.waiting.size === 0) break;
      if (slot.ready && !slot.running) this.start(slot, this.takeNext());
    }
    const starting = this.slots.filter((slot) => !slot.ready).length;
    if (this.waitingJobs() > starting && this.slots.length < this.settings.threads) this.spawn();
    for (const slot of this.slots) {
      if (slot.running || (!slot.ready && this.waiting.size > 0)) slot.worker.ref();
      else slot.worker.unref();
    }
  }

  private waitingJobs(): number {
    let count = 0;
    for (const queue of this.waiting.values()) count += queue.length;
    return count;
  }

  /** The next tenant's oldest job; that tenant then waits behind every other tenant with jobs. */
  private takeNext(): Job {
    const [tenantId, queue] = this.waiting.entries().next().value!;
    const job = queue.shift()!;
    this.waiting.delete(tenantId);
    if (queue.length > 0) this.waiting.set(tenantId, queue);
    return job;
  }

  private start(slot: Slot, job: Job): void {
    const timer = setTimeout(() => {
      this.counts.overBudget++;
      this.retire(slot, (late) =>
        late.reject(new SchemaBudgetExceededError(late.field, `${this.settings.budgetMs} ms`)),
      );
    }, this.settings.budgetMs);
    slot.running = { job, timer };
    slot.worker.postMessage({ id: job.id, ...job.input } satisfies SchemaJob);
  }

  private spawn(): void {
    const options: WorkerOptions = {
      workerData: { cacheEntries: this.settings.cacheEntries } satisfies SchemaWorkerData,
      resourceLimits: { maxOldGenerationSizeMb: this.settings.memoryMb },
    };
    const slot: Slot = { worker: startThread(this.script, options), ready: false };
    this.slots.push(slot);
    slot.worker.on('message', (message: SchemaWorkerMessage) => {
      if ('ready' in message) slot.ready = true;
      else this.finish(slot, (job) => settle(job, message));
      this.dispatch();
    });
    slot.worker.on('error', (error: Error & { code?: string }) => {
      if (error.code === 'ERR_WORKER_OUT_OF_MEMORY') {
        this.counts.overBudget++;
        this.retire(slot, (job) =>
          job.reject(new SchemaBudgetExceededError(job.field, `${this.settings.memoryMb} MB of memory`)),
        );
        return;
      }
      if (!slot.ready)
        this.refuseWaiting(new Error(`schema evaluation thread failed to start: ${error.message}`));
      this.retire(slot, (job) => job.reject(new Error(`schema evaluation thread failed: ${error.message}`)));
    });
    slot.worker.on('exit', () =>
      this.retire(slot, (job) => job.reject(new Error('schema evaluation thread exited'))),
    );
  }

  /** Takes a slot out of the pool, ending its thread; its job, if any, gets `orphan`. */
  private retire(slot: Slot, orphan: (job: Job) => void): void {
    const index = this.slots.indexOf(slot);
    if (index < 0) return;
    this.slots.splice(index, 1);
    this.finish(slot, orphan);
    void slot.worker.terminate();
    this.dispatch();
  }

  private finish(slot: Slot, outcome: (job: Job) => void): void {
    if (!slot.running) return;
    clearTimeout(slot.running.timer);
    const { job } = slot.running;
    slot.running = undefined;
    outcome(job);
  }

  /** A thread that cannot even start would fail every job alike: refuse them rather than respawn forever. */
  private refuseWaiting(error: Error): void {
    for (const job of [...this.waiting.values()].flat()) job.reject(error);
    this.waiting.clear();
  }
}

function settle(job: Job, message: Exclude<SchemaWorkerMessage, { ready: true }>): void {
  if (message.outcome === 'passed') job.resolve();
  else if (message.outcome === 'refused') job.reject(refusalError(message.refusal));
  else job.reject(new Error(`schema evaluation failed: ${message.message}`));
}

function refusalError(refusal: SchemaRefusal): PlatformError {
  return refusal.code === 'SchemaViolation'
    ? new SchemaViolationError(refusal.key, refusal.violations)
    : new InvalidArgumentError(refusal.message, refusal.field);
}

/**
 * The thread's script sits beside this module: compiled (.js) in dist/ and in the Lambda bundle, where
 * deploy/build-lambda.sh writes it next to index.js; as TypeScript when run from source (tsx, jest).
 */
function schemaWorkerScript(): string {
  const compiled = path.join(__dirname, 'schemaWorker.js');
  return existsSync(compiled) ? compiled : path.join(__dirname, 'schemaWorker.ts');
}

/** From source, the thread registers tsx itself: a loader the process was started with does not carry over. */
function startThread(script: string, options: WorkerOptions): Worker {
  if (!script.endsWith('.ts')) return new Worker(script, options);
  const tsx = require.resolve('tsx/cjs/api');
  const bootstrap = `require(${JSON.stringify(tsx)}).register(); require(${JSON.stringify(script)});`;
  return new Worker(bootstrap, { ...options, eval: true });
}
