#!/usr/bin/env bash
# Runs timer_bench against a fresh mqbroker (own temp store, 127.0.0.1, no NameServer), RUNS
# times, and prints each run's report. Defaults: 1,000,000 messages spread over 600 s.
#   tools/benchmark/timer_bench.sh [build-dir]     env: RUNS=3 COUNT=1000000 SPREAD=600 LEAD=60 MEASURE=100000
set -euo pipefail
BIN=${1:-build}/bin
RUNS=${RUNS:-3}
COUNT=${COUNT:-1000000}
SPREAD=${SPREAD:-600}
LEAD=${LEAD:-60}
MEASURE=${MEASURE:-100000}
for run in $(seq 1 "$RUNS"); do
  dir=$(mktemp -d /tmp/timer_bench.XXXXXX)
  "$BIN/mqbroker" --listen-port 0 --store-dir "$dir/store" --ready-file "$dir/ready" \
    --set brokerIP1=127.0.0.1 --set bindAddress=127.0.0.1 >"$dir/broker.out" 2>&1 &
  pid=$!
  for _ in $(seq 1 300); do [[ -s "$dir/ready" ]] && break; sleep 0.1; done
  addr=$(cat "$dir/ready")
  echo "== run $run: broker pid $pid at $addr"
  "$BIN/timer_bench" -b "$addr" --pid "$pid" --count "$COUNT" --spread-sec "$SPREAD" --lead-sec "$LEAD" \
    --measure "$MEASURE" || echo "run $run failed"
  kill "$pid"; wait "$pid" || true
  rm -rf "$dir"
done
