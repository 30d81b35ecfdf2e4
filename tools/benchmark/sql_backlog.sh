#!/usr/bin/env bash
# Backlog drain with and without an SQL92 filter: a fresh local NameServer + broker
# (enablePropertyFilter=true), COUNT messages of SIZE bytes spread over 10 "bucket" values,
# then ROUNDS x (a push consumer taking everything, a push consumer with
# --sql "bucket = 0" taking 10 %), each in a new group from the first offset. Prints one
# JSON line per consumer run (mqbench's summary) prefixed by the run's name. Loopback only.
#   tools/benchmark/sql_backlog.sh [COUNT=200000] [SIZE=1024] [ROUNDS=3]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
bin="${MQ_BIN:-$root/build/bin}"
count="${1:-200000}"
size="${2:-1024}"
rounds="${3:-3}"
dir="$(mktemp -d /tmp/mq-sqlbench.XXXXXX)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
wait_file() { for _ in $(seq 100); do [[ -s "$1" ]] && return 0; sleep 0.1; done; echo "no $1" >&2; exit 1; }

"$bin/mqnamesrv" --listen 127.0.0.1:0 --ready-file "$dir/ns" --set logLevel=warn >"$dir/ns.log" 2>&1 &
pids+=($!)
wait_file "$dir/ns"
ns="$(cat "$dir/ns")"
"$bin/mqbroker" -n "$ns" --listen-port 0 --store-dir "$dir/store" --set brokerIP1=127.0.0.1 \
  --set bindAddress=127.0.0.1 --set logLevel=warn --set enablePropertyFilter=true \
  --ready-file "$dir/b" >"$dir/b.log" 2>&1 &
pids+=($!)
wait_file "$dir/b"
"$bin/mqadmin" updateTopic -n "$ns" -c DefaultCluster -t SqlBench -r 4 -w 4 >/dev/null
fill="$("$bin/mqbench" producer -n "$ns" -t SqlBench -s "$size" --batch 64 -w 2 --buckets 10 --count "$count" \
  --json 2>/dev/null | tail -1)"
echo "fill $fill"
# Batches round the count down to whole batches; bucket = sequence % 10 from 0.
sent="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["sent"])' "$fill")"
matching=$(((sent + 9) / 10))
for r in $(seq "$rounds"); do
  "$bin/mqbench" consumer -n "$ns" -t SqlBench -g "all$r" --from-first --count "$sent" -d 120 --json \
    2>/dev/null | tail -1 | sed "s/^/all$r /" || true
  "$bin/mqbench" consumer -n "$ns" -t SqlBench -g "sql$r" --from-first --count "$matching" -d 120 \
    --sql "bucket = 0" --json 2>/dev/null | tail -1 | sed "s/^/sql$r /" || true
done
