#!/usr/bin/env node
// Runs the TypeScript sources directly; a production image runs the compiled dist/cli/main.js instead.
require('tsx/cjs');
require('../cli/main.ts')
  .run(process.argv)
  .then((code) => process.exit(code));
