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
)

mq_ensure_deps() {
  local missing=()
  for pkg in "${MQ_DEBIAN_PACKAGES[@]}"; do
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

MQ_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  mq_ensure_deps
fi
