/**
 * `npm run bench:all`: every benchmark in turn, one JSON document on stdout with each benchmark's own
 * document and, first, every ratio against its same-run baseline (bench/README.md explains each).
 * Progress goes to stderr. Exits non-zero if any benchmark did.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';

const BENCHMARKS = [
  { name: 'rolloutFanout', script: 'bench' },
  { name: 'rolloutLatency', script: 'bench:latency' },
  { name: 'configReads', script: 'bench:reads' },
  { name: 'outOfBand', script: 'bench:oob' },
  { name: 'grpcReads', script: 'bench:grpc' },
  { name: 'rolloutEnd', script: 'bench:end' },
  { name: 'shardedFanout', script: 'bench:shards' },
] as const;

async function main(): Promise<void> {
  const documents: Record<string, unknown> = {};
  const ratios: Record<string, unknown> = {};
  let failed = false;
  for (const { name, script } of BENCHMARKS) {
    process.stderr.write(`== ${name} (npm run ${script})\n`);
    const { code, stdout } = await run(script);
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
  process.stdout.write(`${JSON.stringify({ ratios, benchmarks: documents }, null, 2)}\n`);
  if (failed) process.exitCode = 1;
}

function run(script: string): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('npm', ['run', '-s', script], {
      cwd: path.join(__dirname, '..'),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code: code ?? 1, stdout }));
  });
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
