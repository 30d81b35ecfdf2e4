#!/usr/bin/env bash
# Node.js SDK (rocketmq-client-nodejs@1.0.8) throughput against a local cluster: a Producer
# sending COUNT messages of BODY bytes with CONCURRENCY sends in flight, then a SimpleConsumer
# receiving (batches of 32) and acking them all. Runs RUNS times on fresh topics and prints
# every run, the median and the spread (min..max) of both rates.
#   COUNT=5000 CONCURRENCY=32 BODY=1024 RUNS=3 ./tools/benchmark/node_sdk_bench.sh
# Starts its own mqnamesrv + mqbroker (build/bin, Release; temp dir, ephemeral ports) and stops
# them at exit. Needs node and `npm ci` in tests/compat (tools/test.sh does it).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
count=${COUNT:-5000}
concurrency=${CONCURRENCY:-32}
body=${BODY:-1024}
runs=${RUNS:-3}
bin="$root/build/bin"
compat="$root/tests/compat"
for b in mqnamesrv mqbroker; do
  [[ -x "$bin/$b" ]] || { echo "missing $bin/$b: build first (tools/test.sh or mq_build)" >&2; exit 1; }
done
[[ -f "$compat/node_modules/rocketmq-client-nodejs/package.json" ]] ||
  { echo "run 'npm ci' in tests/compat first" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() {
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill -TERM "${pids[i]}" 2>/dev/null || true
    wait "${pids[i]}" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

# wait_ready FILE PID LINES: bounded (30 s) wait until the ready file has LINES lines.
wait_ready() {
  for _ in $(seq 1 300); do
    [[ -s "$1" && $(wc -l <"$1") -ge $3 ]] && return 0
    kill -0 "$2" 2>/dev/null || { echo "daemon $2 exited; logs in $work" >&2; exit 1; }
    sleep 0.1
  done
  echo "daemon $2 not ready within 30 s" >&2
  exit 1
}

"$bin/mqnamesrv" --listen 127.0.0.1:0 --set "logDir=$work/ns" --ready-file "$work/ns.ready" \
  >"$work/ns.out" 2>&1 &
pids+=($!)
wait_ready "$work/ns.ready" "${pids[0]}" 1
ns=$(head -1 "$work/ns.ready")
"$bin/mqbroker" -n "$ns" --listen-port 0 --store-dir "$work/store" --ready-file "$work/broker.ready" \
  --set brokerIP1=127.0.0.1 --set bindAddress=127.0.0.1 --set grpcServerPort=-1 \
  --set "logDir=$work/broker-logs" >"$work/broker.out" 2>&1 &
pids+=($!)
wait_ready "$work/broker.ready" "${pids[1]}" 2
v2=$(sed -n 's/^v2=//p' "$work/broker.ready")
[[ -n "$v2" ]] || { echo "the broker reported no v2 address" >&2; exit 1; }

# field NAME FILE: the NAME number of the "done" JSON line.
field() { sed -n 's/.*"event":"done".*"'"$1"'":\([0-9.]*\).*/\1/p' "$2" | tail -1; }
# stats: median and min..max of the numbers on stdin.
stats() { sort -n | awk '{v[NR]=$1} END {printf "median %d/s (spread %d..%d/s)", v[int((NR+1)/2)], v[1], v[NR]}'; }

echo "node $(node --version), rocketmq-client-nodejs 1.0.8, broker v2 at $v2"
echo "count=$count concurrency=$concurrency body=${body}B runs=$runs"
: >"$work/produce.rates"
: >"$work/receive.rates"
for run in $(seq 1 "$runs"); do
  topic="BenchNode$run"
  node "$compat/producer.js" --endpoints "$v2" --topic "$topic" --count "$count" \
    --concurrency "$concurrency" --body-size "$body" --timeout-ms 300000 >"$work/p$run.out" 2>"$work/p$run.err" ||
    { echo "producer run $run failed:" >&2; tail -5 "$work/p$run.out" "$work/p$run.err" >&2; exit 1; }
  node "$compat/simple_consumer.js" --endpoints "$v2" --topic "$topic" --group "BenchGroup$run" \
    --expect "$count" --batch 32 --invisible-ms 60000 --timeout-ms 300000 >"$work/c$run.out" 2>"$work/c$run.err" ||
    { echo "consumer run $run failed:" >&2; tail -5 "$work/c$run.out" "$work/c$run.err" >&2; exit 1; }
  p=$(field per_sec "$work/p$run.out")
  c=$(field per_sec "$work/c$run.out")
  echo "run $run: produce $p msg/s, receive+ack $c msg/s"
  echo "$p" >>"$work/produce.rates"
  echo "$c" >>"$work/receive.rates"
done
echo "produce:     $(stats <"$work/produce.rates")"
echo "receive+ack: $(stats <"$work/receive.rates")"
