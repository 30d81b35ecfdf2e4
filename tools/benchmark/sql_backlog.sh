#!/usr/bin/env bash
# Backlog drain with and without an SQL92 filter: a fresh local NameServer + broker
# (enablePropertyFilter=true), COUNT messages of SIZE bytes spread over 10 "bucket" values,
# then ROUNDS x (a push consumer taking everything, a push consumer with
# --sql "bucket = 0" taking 10 %), each in a new group from the first offset. Prints one
# JSON line per consumer run (mqbench's summary) prefixed by the run's name. Loopback only.
#   tools/benchmark/sql_backlog.sh [COUNT=200000] [SIZE=1024] [ROUNDS=3]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
mq_bin="${MQ_BIN:-$root/build/bin}"
# shellcheck source=tools/benchmark/local_cluster.sh
source "$root/tools/benchmark/local_cluster.sh"
count="${1:-200000}"
size="${2:-1024}"
rounds="${3:-3}"
mq_bench_tmpdir mq-sqlbench
mq_start_cluster "$mq_dir" --set enablePropertyFilter=true
mq_create_topic "$mq_dir" SqlBench
fill="$("$mq_bin/mqbench" producer -n "$mq_ns" -t SqlBench -s "$size" --batch 64 -w 2 --buckets 10 --count "$count" \
  --json 2>/dev/null | tail -1)"
echo "fill $fill"
# Batches round the count down to whole batches; bucket = sequence % 10 from 0.
sent="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["sent"])' "$fill")"
matching=$(((sent + 9) / 10))
for r in $(seq "$rounds"); do
  "$mq_bin/mqbench" consumer -n "$mq_ns" -t SqlBench -g "all$r" --from-first --count "$sent" -d 120 --json \
    2>/dev/null | tail -1 | sed "s/^/all$r /" || true
  "$mq_bin/mqbench" consumer -n "$mq_ns" -t SqlBench -g "sql$r" --from-first --count "$matching" -d 120 \
    --sql "bucket = 0" --json 2>/dev/null | tail -1 | sed "s/^/sql$r /" || true
done
