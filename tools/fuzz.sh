#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, -DMQ_FUZZ=ON, only the fuzzers) in build-fuzz/ and runs
# each for a bounded time, starting from the committed seed corpus in tests/fuzz/corpus/.
#   ./tools/fuzz.sh               every target, MQ_FUZZ_SECONDS (default 8) seconds each
#   ./tools/fuzz.sh 600 broker_requests    one target for ten minutes
# Inputs the fuzzer finds interesting go to build-fuzz/corpus/<target>/ (not the committed
# seeds); a crash is saved as build-fuzz/artifacts/<target>/crash-* and fails the script.
# Skips (exit 0, with the reason) when clang++ or its libFuzzer runtime is missing.
set -euo pipefail
source "$(dirname "$0")/deps.sh"

seconds=${1:-${MQ_FUZZ_SECONDS:-8}}
shift || true
targets=("$@")
if ((${#targets[@]} == 0)); then
  # Every target there is (tests/fuzz/<target>_fuzz.cc), so a new one cannot be left out.
  for source in "$MQ_ROOT"/tests/fuzz/*_fuzz.cc; do
    name="$(basename "$source")"
    targets+=("${name%_fuzz.cc}")
  done
fi

if ! command -v clang++ >/dev/null 2>&1; then
  echo "==> fuzzing SKIPPED: clang++ is not installed (apt-get install clang)"
  exit 0
fi
probe_dir=$(mktemp -d)
trap 'rm -rf "$probe_dir"' EXIT
echo 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }' \
  >"$probe_dir/probe.cc"
if ! clang++ -fsanitize=fuzzer "$probe_dir/probe.cc" -o "$probe_dir/probe" 2>"$probe_dir/err"; then
  echo "==> fuzzing SKIPPED: clang++ cannot link libFuzzer: $(head -1 "$probe_dir/err")"
  exit 0
fi

build_dir="$MQ_ROOT/build-fuzz"
echo "==> building fuzz targets in $build_dir"
CC=clang CXX=clang++ mq_build "$build_dir" "-DCMAKE_BUILD_TYPE=RelWithDebInfo -DMQ_WERROR=ON -DMQ_FUZZ=ON" mq_fuzzers

status=0
for t in "${targets[@]}"; do
  corpus="$build_dir/corpus/$t"
  artifacts="$build_dir/artifacts/$t/"
  mkdir -p "$corpus" "$artifacts"
  log="$build_dir/fuzz-$t.log"
  # -timeout: one input taking this long is a hang; -rss_limit_mb: a leak or blow-up.
  if "$build_dir/bin/fuzz_$t" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=3072 -max_len=16384 \
      -print_final_stats=1 -artifact_prefix="$artifacts" "$corpus" "$MQ_ROOT/tests/fuzz/corpus/$t" >"$log" 2>&1; then
    echo "==> fuzz_$t: $(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}') executions in ${seconds}s, no findings"
  else
    echo "==> fuzz_$t: FINDING (see $log and $artifacts)"
    grep -E 'ERROR|FUZZ CHECK|SUMMARY' "$log" | head -5 || true
    status=1
  fi
done
exit $status
