import { copyFileSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import { CONSOLE_FILES, consoleBuildDir } from '../common/consoleBuild';
import { repoRoot } from '../common/repoRoot';

/**
 * Bundles the web console (console/src, TypeScript) into console/dist, beside its page and stylesheet,
 * where the config service serves it. A build step rather than a bundle at start-up, so esbuild stays a
 * development dependency; `npm run prepare` (npm install, npm ci, the Dockerfile) runs it.
 */
export async function buildConsole(): Promise<string> {
  const source = path.join(repoRoot(), 'console');
  const out = consoleBuildDir();
  mkdirSync(out, { recursive: true });
  // Built aside, then renamed into place file by file: a server (or a test file building at the same
  // time) never serves a half-written bundle.
  const staging = mkdtempSync(path.join(out, '.build-'));
  try {
    await build({
      entryPoints: [path.join(source, 'src', 'main.ts')],
      outfile: path.join(staging, 'console.js'),
      bundle: true,
      format: 'iife',
      target: 'es2022',
      minify: true,
      sourcemap: false,
      legalComments: 'none',
      logLevel: 'warning',
    });
    for (const file of ['index.html', 'console.css'])
      copyFileSync(path.join(source, file), path.join(staging, file));
    for (const file of CONSOLE_FILES) renameSync(path.join(staging, file), path.join(out, file));
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return out;
}

if (require.main === module) {
  buildConsole().then(
    (out) => console.log(`console built into ${path.relative(repoRoot(), out)}`),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
