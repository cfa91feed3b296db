#!/usr/bin/env bash
# The one test command (npm test, and .ci/run): installs what is missing, checks types and lint, then
# runs jest, whose global setup starts the local stack if it is not running and stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
npm run --silent gen:proto
echo "== typecheck"
npx tsc --noEmit -p .
echo "== lint"
npx eslint .
npx prettier --check . >/dev/null || { npx prettier --list-different .; echo "prettier: run npm run format"; exit 1; }
echo "== jest"
npx jest "$@"
