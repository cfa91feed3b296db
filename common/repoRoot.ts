import { existsSync } from 'node:fs';
import path from 'node:path';

/** The checkout's root (where package.json is), found from a module's location, not the working directory. */
export function repoRoot(from: string = __dirname): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

/** Runtime state of the local stack (keys, logs, pids); ignored by git. */
export function localStateDir(...parts: string[]): string {
  return path.join(repoRoot(), '.local', ...parts);
}
