import { existsSync } from 'node:fs';
import path from 'node:path';
import { repoRoot as findRepoRoot } from '../../common/repoRoot';
import { StackError } from './errors';

/** The checkout this module belongs to, whatever the working directory of the command that loaded it. */
export const repoRoot = findRepoRoot(__dirname);

/** Installed tools (scripts/setup.sh) and local files (keys, logs, pids, data); both are ignored by git. */
export const toolsDir = path.join(repoRoot, '.tools');
export const localDir = path.join(repoRoot, '.local');

/**
 * Where a stack keeps its processes' pids and logs, its lock, and the data its servers keep across
 * restarts: `.local/`, or STACK_STATE_DIR for a second stack of this checkout (a test's private one).
 * The keys stay in `.local/` either way: every stack of a checkout signs with the same ones.
 */
export function stateDir(): string {
  const configured = process.env.STACK_STATE_DIR;
  return configured ? path.resolve(configured) : localDir;
}

export const logsDir = (): string => path.join(stateDir(), 'logs');
export const pidsDir = (): string => path.join(stateDir(), 'pids');
/** What `npm run stack -- reset` deletes: Temporal's database and the moto servers' journals. */
export const dataDir = (): string => path.join(stateDir(), 'data');

// The venv holds the PyPI-packaged tools; .tools/bin holds `go install`ed ones and the Temporal
// CLI fallback, so the venv wins when both have a tool.
const toolDirs = [path.join(toolsDir, 'venv', 'bin'), path.join(toolsDir, 'bin')];

/** Where the tool lives once installed (the first existing candidate, else where setup puts it). */
export function expectedToolPath(name: string): string {
  const candidates = toolDirs.map((dir) => path.join(dir, name));
  return candidates.find((candidate) => existsSync(candidate)) ?? (candidates[0] as string);
}

/**
 * The installed executable of a stack tool: `aws`, `moto_server`, `temporal`, `grpcurl`, or
 * `temporal-test-server` (the time-skipping server for `@temporalio/testing`'s existing-path option).
 */
export function toolPath(name: string): string {
  const found = expectedToolPath(name);
  if (!existsSync(found)) {
    throw new StackError(
      `${name} is not installed in ${path.relative(repoRoot, toolsDir)}/: run \`npm run setup\``,
    );
  }
  return found;
}
