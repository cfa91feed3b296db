#!/usr/bin/env bash
# npm run check:deploy: lints the deployment artefacts, one line per check.
#   cfn-lint        deploy/template.yaml (cfn-lint from .tools/venv, installed by npm run setup)
#   docker-compose  docker-compose.yml parses and validates (`config -q`; needs no Docker daemon)
# Exits non-zero when a check fails. A check whose tool is missing fails too, except docker-compose,
# which setup can install only as root with apt-get: without it that check says "skipped" and why.
set -uo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CFN_LINT="$REPO_ROOT/.tools/venv/bin/cfn-lint"
TEMPLATE="$REPO_ROOT/deploy/template.yaml"
COMPOSE_FILE="$REPO_ROOT/docker-compose.yml"

failed=0

# Prints "<name>: ok", or "<name>: FAILED" followed by the tool's output, indented.
report() {
  local name="$1" code="$2" output="$3"
  if ((code == 0)); then
    echo "$name: ok"
  else
    echo "$name: FAILED (exit $code)"
    [[ -n "$output" ]] && sed 's/^/    /' <<<"$output"
    failed=1
  fi
}

if [[ -x "$CFN_LINT" ]]; then
  # Warnings count as failures too (cfn-lint exits 4 on warnings, 2 on errors).
  output="$("$CFN_LINT" --format parseable -- "$TEMPLATE" 2>&1)"
  report "cfn-lint deploy/template.yaml" $? "$output"
else
  report "cfn-lint deploy/template.yaml" 127 "$CFN_LINT is missing: run npm run setup"
fi

compose=()
if command -v docker-compose >/dev/null; then
  compose=(docker-compose)
elif docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
fi
if ((${#compose[@]} == 0)); then
  echo "docker-compose config docker-compose.yml: skipped (neither docker-compose nor the docker compose" \
    "plugin is installed; npm run setup installs Debian's docker-compose when run as root with apt-get)"
else
  output="$(cd "$REPO_ROOT" && "${compose[@]}" -f "$COMPOSE_FILE" config -q 2>&1)"
  report "${compose[*]} config docker-compose.yml" $? "$output"
fi

exit "$failed"
