#!/usr/bin/env bash
# End-to-end latency (send -> listener) of `mqbench e2e` against a fresh local NameServer and
# ASYNC_FLUSH broker, RUNS times per rate: prints one JSON line per run with p50/p99/p99.9 and
# the broker's and the client's CPU microseconds per message (user + sys) and the broker's context
# switches per message (thread hops; they move less with load than latency), then the median and
# min-max of each rate. Loopback only; temp dirs removed.
#   tools/mqbench/e2e_latency.sh 2000 20000 40000          # RUNS=3 DURATION=10 SIZE=1024
#   BROKER_SETS="--set flushDiskType=SYNC_FLUSH" tools/mqbench/e2e_latency.sh 2000
# MQ_BIN selects the binaries (default: build/bin of this checkout); extra mqbench options
# go in E2E_ARGS (e.g. E2E_ARGS="--batch-in-flight 8").
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
bin="${MQ_BIN:-$root/build/bin}"
runs="${RUNS:-3}"
duration="${DURATION:-10}"
size="${SIZE:-1024}"
[[ $# -gt 0 ]] || { echo "usage: $0 RATE [RATE...]" >&2; exit 2; }
dir="$(mktemp -d /tmp/mq-e2e.XXXXXX)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
wait_file() { for _ in $(seq 100); do [[ -s "$1" ]] && return 0; sleep 0.1; done; echo "no $1" >&2; exit 1; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# Context switches of every thread of a process (each thread hop on the message path is one).
switches() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/ctxt_switches/ {n += $2} END {print n}'; }

one_run() {  # rate run -> one JSON line on stdout; runs in the pipeline's subshell
  local rate="$1" run="$2" d="$dir/r$1-$2"
  mkdir -p "$d"
  # This subshell's processes are not in the parent's pids: stop them on any exit here.
  trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true' EXIT
  "$bin/mqnamesrv" --listen 127.0.0.1:0 --ready-file "$d/ns" --set logLevel=warn >"$d/ns.log" 2>&1 &
  local ns_pid=$!
  pids+=("$ns_pid")
  wait_file "$d/ns"
  local ns
  ns="$(cat "$d/ns")"
  # shellcheck disable=SC2086
  "$bin/mqbroker" -n "$ns" --listen-port 0 --store-dir "$d/store" --set brokerIP1=127.0.0.1 \
    --set bindAddress=127.0.0.1 --set flushDiskType=ASYNC_FLUSH --set logLevel=warn ${BROKER_SETS:-} \
    --ready-file "$d/b" >"$d/b.log" 2>&1 &
  local broker=$!
  pids+=("$broker")
  wait_file "$d/b"
  # The ready file can precede the broker's first registration with the NameServer.
  local tries=0
  until "$bin/mqadmin" updateTopic -n "$ns" -c DefaultCluster -t E2E -r 4 -w 4 >/dev/null 2>"$d/admin.err"; do
    ((++tries < 100)) || { cat "$d/admin.err" >&2; exit 1; }
    sleep 0.1
  done
  local before after sw_before sw_after
  before=$(ticks "$broker")
  sw_before=$(switches "$broker")
  # shellcheck disable=SC2086
  /usr/bin/time -f "%U %S" -o "$d/time" "$bin/mqbench" e2e -n "$ns" -t E2E -g e2e -s "$size" \
    --rate "$rate" -d "$duration" --json ${E2E_ARGS:-} 2>"$d/err" | tail -1 >"$d/out.json" || true
  after=$(ticks "$broker")
  sw_after=$(switches "$broker")
  kill "$broker" "$ns_pid" 2>/dev/null || true
  wait "$broker" "$ns_pid" 2>/dev/null || true
  python3 - "$d/out.json" "$d/time" "$before" "$after" "$(getconf CLK_TCK)" "$rate" "$sw_before" "$sw_after" <<'PY'
import json, sys
out, timef, before, after, hz, rate, sw_before, sw_after = sys.argv[1:9]
try:
    o = json.load(open(out))
except ValueError:
    o = {"received": 0, "error": open(out).read().strip()}
user, sys_ = map(float, open(timef).read().split()[-2:])
n = max(o.get("received", 0), 1)
print(json.dumps({"rate": int(rate), "broker_cpu_us_per_msg": round((int(after) - int(before)) / int(hz) * 1e6 / n, 1),
                  "client_cpu_us_per_msg": round((user + sys_) * 1e6 / n, 1),
                  "broker_switches_per_msg": round((int(sw_after) - int(sw_before)) / n, 2), "mqbench": o}))
PY
}

for rate in "$@"; do
  : >"$dir/rate-$rate"
  for run in $(seq "$runs"); do one_run "$rate" "$run" | tee -a "$dir/rate-$rate"; done
  python3 - "$dir/rate-$rate" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def col(f):
    v = [f(r) for r in rows]
    return f"{statistics.median(v):g} ({min(v):g}-{max(v):g})"
m = lambda k: (lambda r: r["mqbench"].get(k, 0))
print(f"rate {rows[0]['rate']}: p50 {col(m('p50_us'))} us, p99 {col(m('p99_us'))} us, "
      f"p99.9 {col(m('p999_us'))} us, max {col(m('max_us'))} us, received {col(m('received'))}, "
      f"broker {col(lambda r: r['broker_cpu_us_per_msg'])} us/msg, client {col(lambda r: r['client_cpu_us_per_msg'])} us/msg, "
      f"broker context switches {col(lambda r: r['broker_switches_per_msg'])} per msg")
PY
done
