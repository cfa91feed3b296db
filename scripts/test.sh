#!/usr/bin/env bash
# The one test command (npm test, and .ci/run): installs what is missing, checks types and lint, then
# runs jest, whose global setup starts the local stack if it is not running and stops what it started.
# `npm test` may be started by the machine's older npm: setup installs Node 24 when needed, and all that
# follows runs under it.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
. scripts/project-node.sh
use_project_node
echo "== node $(node --version) ($(command -v node))"
npm run --silent gen:proto
echo "== typecheck"
npx tsc --noEmit -p .
npx tsc --noEmit -p console
npx tsc --noEmit -p test/browser
echo "== lint"
npx eslint .
npx prettier --check . >/dev/null || { npx prettier --list-different .; echo "prettier: run npm run format"; exit 1; }
echo "== jest"
npx jest "$@"
