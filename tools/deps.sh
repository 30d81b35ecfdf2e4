#!/usr/bin/env bash
# Installs the Debian 12 packages the suite builds with, when any is missing.
# Sourced by quickstart.sh and test.sh; safe to run on its own. Needs root for apt-get.
set -euo pipefail

MQ_DEBIAN_PACKAGES=(
  cmake ninja-build g++ pkg-config ccache
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libssl-dev  # MD5 and HMAC-SHA1 of the apache.rocketmq.v2 protocol
  libspdlog-dev libfmt-dev libasio-dev libcli11-dev libgtest-dev libgmock-dev
  libfuse3-dev fuse3
  clang  # libFuzzer targets (tools/fuzz.sh)
  nodejs npm  # tests/compat: the RocketMQ 5 Node.js SDK (Debian 12: Node 18, npm 9)
)

# A command on PATH satisfies these packages too: NodeSource's nodejs bundles npm and
# conflicts with Debian's npm package, and nvm installs are not dpkg packages at all.
declare -A MQ_PACKAGE_COMMAND=([nodejs]=node [npm]=npm)

mq_ensure_deps() {
  local missing=()
  for pkg in "${MQ_DEBIAN_PACKAGES[@]}"; do
    if [[ -n "${MQ_PACKAGE_COMMAND[$pkg]:-}" ]] && command -v "${MQ_PACKAGE_COMMAND[$pkg]}" >/dev/null; then
      continue
    fi
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$pkg")
    fi
  done
  if ((${#missing[@]} == 0)); then
    return 0
  fi
  echo "==> installing missing Debian packages: ${missing[*]}"
  local sudo=""
  if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}"
}

# Configures (once) and builds the given targets in build dir $1 with extra cmake args in $2..
# Usage: mq_build DIR "cmake args" [targets...]
mq_build() {
  local dir=$1 cmake_args=$2
  shift 2
  export CCACHE_BASEDIR="$MQ_ROOT" CCACHE_NOHASHDIR=1
  # shellcheck disable=SC2086
  cmake -S "$MQ_ROOT" -B "$dir" -G Ninja $cmake_args >/dev/null
  local jobs
  jobs=$(nproc 2>/dev/null || echo 2)
  cmake --build "$dir" -j "$jobs" ${1:+--target "$@"}
}

# Installs the pinned Node.js SDK of tests/compat (package-lock.json) unless node_modules already
# matches it. A failure only warns: the compat tests then skip and say why.
mq_compat_npm_ci() {
  local dir="$MQ_ROOT/tests/compat"
  if ! command -v npm >/dev/null; then
    echo "==> npm not found: the Node.js SDK compat tests will be skipped"
    return 0
  fi
  if [[ -f "$dir/node_modules/rocketmq-client-nodejs/package.json" &&
        "$dir/node_modules/.package-lock.json" -nt "$dir/package-lock.json" ]]; then
    return 0
  fi
  echo "==> installing the Node.js SDK for tests/compat (npm ci)"
  # No install scripts: none of the pinned packages needs one to run.
  if ! (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error); then
    echo "==> npm ci failed: the Node.js SDK compat tests will be skipped" >&2
  fi
}

MQ_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  mq_ensure_deps
fi
