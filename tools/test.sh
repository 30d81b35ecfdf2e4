#!/usr/bin/env bash
# Sets up and runs the whole test suite: installs missing Debian packages, builds (Release,
# warnings as errors) into build/, and runs every ctest test.
#   ./tools/test.sh                 the full suite
#   ./tools/test.sh --asan          the full suite under AddressSanitizer + UBSan (build-asan/)
#   ./tools/test.sh --tsan -L unit  under ThreadSanitizer (build-tsan/; tools/tsan.supp says what
#                                   it ignores); every process's reports, also the brokers' the
#                                   tests start, go to build-tsan/tsan/ and any report fails the run
#   ./tools/test.sh -L unit         extra arguments go to ctest (here: unit tests only)
#   ./tools/test.sh -L soak         the soak run (minutes; label soak), left out otherwise
# Before ctest it installs the pinned Node.js SDK for the compat tests (tests/compat, npm ci).
# The default run also fuzzes every libFuzzer target for a few seconds (tools/fuzz.sh; about a
# minute in all, skipped with the reason when clang/libFuzzer is missing, or MQ_SKIP_FUZZ=1).
set -euo pipefail
source "$(dirname "$0")/deps.sh"
mq_ensure_deps

build_dir="$MQ_ROOT/build"
cmake_args="-DCMAKE_BUILD_TYPE=Release -DMQ_WERROR=ON"
if [[ "${1:-}" == "--asan" ]]; then
  shift
  build_dir="$MQ_ROOT/build-asan"
  cmake_args="-DCMAKE_BUILD_TYPE=Debug -DMQ_WERROR=ON -DMQ_SANITIZE=address,undefined"
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
elif [[ "${1:-}" == "--tsan" ]]; then
  shift
  build_dir="$MQ_ROOT/build-tsan"
  cmake_args="-DCMAKE_BUILD_TYPE=RelWithDebInfo -DMQ_WERROR=ON -DMQ_SANITIZE=thread"
  tsan_reports="$build_dir/tsan"
  rm -rf "$tsan_reports"
  mkdir -p "$tsan_reports"
  # A broker a test kills leaves no exit code to fail on: each process writes its reports to a file.
  export TSAN_OPTIONS="log_path=$tsan_reports/report suppressions=$MQ_ROOT/tools/tsan.supp second_deadlock_stack=1"
fi

mq_compat_npm_ci
echo "==> building in $build_dir"
mq_build "$build_dir" "$cmake_args"
echo "==> running tests"
cd "$build_dir"
# The soak runs for minutes: only when the arguments ask for it.
label_args=(-LE soak)
for arg in "$@"; do
  if [[ "$arg" == *soak* ]]; then label_args=(); fi
done
ctest_rc=0
ctest --output-on-failure -j "$(nproc 2>/dev/null || echo 2)" --timeout 300 "${label_args[@]}" "$@" || ctest_rc=$?
if [[ -n "${tsan_reports:-}" ]] && compgen -G "$tsan_reports/report.*" >/dev/null; then
  echo "==> ThreadSanitizer reports (in $tsan_reports):"
  cat "$tsan_reports"/report.*
  exit 1
fi
((ctest_rc == 0)) || exit "$ctest_rc"
if [[ $# -eq 0 && "$build_dir" == "$MQ_ROOT/build" && "${MQ_SKIP_FUZZ:-0}" != 1 ]]; then
  echo "==> fuzzing"
  "$MQ_ROOT/tools/fuzz.sh"
fi
