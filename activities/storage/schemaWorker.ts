import { parentPort, workerData } from 'node:worker_threads';
import { InvalidArgumentError, SchemaViolationError, errorMessage } from '../../common/errors';
import type { SchemaJob, SchemaWorkerData, SchemaWorkerMessage } from './schemaJobs';
import { ValueSchemaChecker } from './valueSchema';

/**
 * A schema pool's thread (schemaPool.ts): compiles schemas and checks values against them, one job at a
 * time, so that however long a job takes, only this thread waits; the pool ends it past its budget.
 */
const port = parentPort!;
const checker = new ValueSchemaChecker((workerData as SchemaWorkerData).cacheEntries);

// A thread's first compile pays for Ajv's lazy start-up (a few hundred milliseconds), in both dialects:
// paid here, before the thread takes jobs, so that it counts against no job's budget.
checker.compile({});
checker.compile({ $schema: 'http://json-schema.org/draft-07/schema#' });

port.on('message', (job: SchemaJob) => port.postMessage(run(job)));
port.postMessage({ ready: true } satisfies SchemaWorkerMessage);

function run(job: SchemaJob): SchemaWorkerMessage {
  try {
    if (job.kind === 'check') checker.compileText(job.schema);
    else checker.assertMatches(job.key, job.format, job.value, job.schema);
    return { id: job.id, outcome: 'passed' };
  } catch (error) {
    if (error instanceof SchemaViolationError) {
      return {
        id: job.id,
        outcome: 'refused',
        refusal: { code: error.code, key: error.key, violations: error.violations },
      };
    }
    if (error instanceof InvalidArgumentError) {
      return {
        id: job.id,
        outcome: 'refused',
        refusal: { code: error.code, message: error.message, ...(error.field ? { field: error.field } : {}) },
      };
    }
    return {
      id: job.id,
      outcome: 'crashed',
      message: errorMessage(error),
    };
  }
}
