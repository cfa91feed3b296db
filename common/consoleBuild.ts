import path from 'node:path';
import { repoRoot } from './repoRoot';

/** Where `npm run build:console` writes the web console and the config service serves it from. */
export function consoleBuildDir(): string {
  return path.join(repoRoot(), 'console', 'dist');
}

/** The files of a built console, as the server serves them under /console/. */
export const CONSOLE_FILES = ['index.html', 'console.js', 'console.css'] as const;
