import { existsSync } from 'node:fs';
import path from 'node:path';
import { repoRoot as findRepoRoot } from '../../common/repoRoot';
import { StackError } from './errors';

/** The checkout this module belongs to, whatever the working directory of the command that loaded it. */
export const repoRoot = findRepoRoot(__dirname);

/** Installed tools (scripts/setup.sh) and runtime state; both are ignored by git. */
export const toolsDir = path.join(repoRoot, '.tools');
export const localDir = path.join(repoRoot, '.local');
export const logsDir = path.join(localDir, 'logs');
export const pidsDir = path.join(localDir, 'pids');

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
