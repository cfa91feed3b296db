/**
 * `npm run bench:all`: every benchmark in turn, one JSON document on stdout with each benchmark's own
 * document and, first, every ratio against its same-run baseline (bench/README.md explains each).
 * Progress goes to stderr. Exits non-zero if any benchmark did.
 *
 * The benchmarks run on a stack of their own with empty stores (a fresh STACK_STATE_DIR, deleted after),
 * unless STACK_STATE_DIR is set: on a stack kept across many sessions the dev server's SQLite file and
 * the moto tables grow (1.5 GB and thousands of items here), and every figure then measures them too
 * (REST to 100 instances held: 677 ms p50 on such a stack, 190 ms on an empty one). Each benchmark
 * starts and stops the stack itself, so the default ports must be free (`npm run stack -- down`).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { errorMessage } from '../common/errors';

const BENCHMARKS = [
  { name: 'rolloutFanout', script: 'bench' },
  { name: 'rolloutLatency', script: 'bench:latency' },
  { name: 'configReads', script: 'bench:reads' },
  { name: 'outOfBand', script: 'bench:oob' },
  { name: 'grpcReads', script: 'bench:grpc' },
  { name: 'rolloutEnd', script: 'bench:end' },
  { name: 'shardedFanout', script: 'bench:shards' },
  { name: 'observabilityOverhead', script: 'bench:obs' },
] as const;

async function main(): Promise<void> {
  const privateState = process.env.STACK_STATE_DIR
    ? undefined
    : mkdtempSync(path.join(os.tmpdir(), 'bench-all-stack-'));
  const env = privateState ? { ...process.env, STACK_STATE_DIR: privateState } : process.env;
  const stack = privateState
    ? `empty at the start: ${privateState}, deleted after`
    : `as found in STACK_STATE_DIR=${process.env.STACK_STATE_DIR}`;
  process.stderr.write(`stack state: ${stack}\n`);
  try {
    await runAll(env, stack);
  } finally {
    if (privateState) rmSync(privateState, { recursive: true, force: true });
  }
}

async function runAll(env: NodeJS.ProcessEnv, stack: string): Promise<void> {
  const documents: Record<string, unknown> = {};
  const ratios: Record<string, unknown> = {};
  let failed = false;
  for (const { name, script } of BENCHMARKS) {
    process.stderr.write(`== ${name} (npm run ${script})\n`);
    const { code, stdout } = await run(script, env);
    try {
      const document = JSON.parse(stdout) as { ratios?: unknown };
      documents[name] = document;
      ratios[name] = document.ratios ?? null;
    } catch {
      documents[name] = { failure: `printed no JSON document (exit code ${code})` };
      ratios[name] = null;
    }
    if (code !== 0) failed = true;
  }
  process.stdout.write(`${JSON.stringify({ stack, ratios, benchmarks: documents }, null, 2)}\n`);
  if (failed) process.exitCode = 1;
}

function run(script: string, env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('npm', ['run', '-s', script], {
      cwd: path.join(__dirname, '..'),
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code: code ?? 1, stdout }));
  });
}

main().catch((error: unknown) => {
  console.error(errorMessage(error));
  process.exit(1);
});
