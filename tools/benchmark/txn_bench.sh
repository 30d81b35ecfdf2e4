#!/usr/bin/env bash
# Transaction throughput vs plain sync sends (docs/benchmarks.md): starts one mqnamesrv and one
# mqbroker (ASYNC_FLUSH, temp store) on 127.0.0.1, runs txn_bench RUNS times per mode and
# thread count, prints every run as JSON and the median and spread per case, stops both.
#   tools/benchmark/txn_bench.sh [BUILD_DIR] [SECONDS] [RUNS] [THREADS...]
set -euo pipefail
BUILD=${1:-build}
SECONDS_PER_RUN=${2:-5}
RUNS=${3:-3}
shift $(($# > 3 ? 3 : $#))
THREADS=("${@:-1 8}")
# shellcheck disable=SC2206
THREADS=(${THREADS[*]})
WORK=$(mktemp -d /tmp/txnbench.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
wait_file() {
  for _ in $(seq 1 200); do
    [[ -s $1 ]] && return 0
    sleep 0.1
  done
  echo "txn_bench.sh: $1 did not appear" >&2
  return 1
}
"$BUILD/bin/mqnamesrv" --listen 127.0.0.1:0 --ready-file "$WORK/ns.ready" --set logLevel=warn &
PIDS+=($!)
wait_file "$WORK/ns.ready"
NS=$(head -1 "$WORK/ns.ready")
"$BUILD/bin/mqbroker" -n "$NS" --listen-port 0 --store-dir "$WORK/store" --set brokerIP1=127.0.0.1 \
  --set bindAddress=127.0.0.1 --set haListenPort=0 --set logLevel=warn --ready-file "$WORK/broker.ready" &
PIDS+=($!)
wait_file "$WORK/broker.ready"
echo "# $(nproc) cores; ns=$NS; ${SECONDS_PER_RUN}s per run, $RUNS runs per case"
for threads in "${THREADS[@]}"; do
  for mode in sync txn; do
    rates=()
    for _ in $(seq 1 "$RUNS"); do
      line=$("$BUILD/bin/txn_bench" -n "$NS" -t TxnBench --mode "$mode" --threads "$threads" \
        --seconds "$SECONDS_PER_RUN" --json)
      echo "$line"
      rates+=("$(sed -E 's/.*"msgs_per_s":([0-9.]+).*/\1/' <<<"$line")")
    done
    sorted=$(printf '%s\n' "${rates[@]}" | sort -n)
    median=$(sed -n "$(((RUNS + 1) / 2))p" <<<"$sorted")
    echo "## mode=$mode threads=$threads median_msgs_per_s=$median min=$(head -1 <<<"$sorted") max=$(tail -1 <<<"$sorted")"
  done
done
