#!/usr/bin/env bash
# End-to-end latency (send -> listener) of `mqbench e2e` against a fresh local NameServer and
# ASYNC_FLUSH broker, RUNS times per rate: prints one JSON line per run with p50/p99/p99.9 and
# the broker's and the client's CPU microseconds per message (user + sys) and the broker's context
# switches per message (thread hops; they move less with load than latency), then the median and
# min-max of each rate. Loopback only; temp dirs removed.
#   tools/mqbench/e2e_latency.sh 2000 20000 40000          # RUNS=3 DURATION=10 SIZE=1024
#   BROKER_SETS="--set flushDiskType=SYNC_FLUSH" tools/mqbench/e2e_latency.sh 2000
# MQ_BIN selects the binaries (default: build/bin of this checkout); extra mqbench options
# go in E2E_ARGS (e.g. E2E_ARGS="--batch-in-flight 8", or "--warmup 1" to leave the first second
# of sends out of the measurement; "over 2 ms" is the share of measured messages over the goal).
# FLOOR=1 runs `loopback_floor --stream` at the same rate for 3 s before each run and reports
# its p99 and cores beside mq's: what the machine gives a stream with no broker at that moment
# (docs/benchmarks.md, twenty-third session), so a run on a busy minute shows as one.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
mq_bin="${MQ_BIN:-$root/build/bin}"
# shellcheck source=tools/benchmark/local_cluster.sh
source "$root/tools/benchmark/local_cluster.sh"
runs="${RUNS:-3}"
duration="${DURATION:-10}"
size="${SIZE:-1024}"
[[ $# -gt 0 ]] || { echo "usage: $0 RATE [RATE...]" >&2; exit 2; }
mq_bench_tmpdir mq-e2e
dir="$mq_dir"
# Context switches of every thread of a process (each thread hop on the message path is one).
switches() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/ctxt_switches/ {n += $2} END {print n}'; }

one_run() {  # rate run -> one JSON line on stdout; runs in the pipeline's subshell
  local rate="$1" run="$2" d="$dir/r$1-$2"
  mkdir -p "$d"
  # This subshell's processes are not in the parent's list: stop them on any exit here.
  mq_pids=()
  trap mq_kill_started EXIT
  local floor=""
  if [[ "${FLOOR:-0}" == 1 ]]; then
    floor=$("$mq_bin/loopback_floor" --stream --rate "$rate" --seconds 3 2>&1 | tail -1 || true)
  fi
  # shellcheck disable=SC2086
  mq_start_cluster "$d" --set flushDiskType=ASYNC_FLUSH ${BROKER_SETS:-}
  mq_create_topic "$d" E2E
  local before after sw_before sw_after
  before=$(mq_cpu_ticks "$mq_broker_pid")
  sw_before=$(switches "$mq_broker_pid")
  # shellcheck disable=SC2086
  /usr/bin/time -f "%U %S" -o "$d/time" "$mq_bin/mqbench" e2e -n "$mq_ns" -t E2E -g e2e -s "$size" \
    --rate "$rate" -d "$duration" --json ${E2E_ARGS:-} 2>"$d/err" | tail -1 >"$d/out.json" || true
  after=$(mq_cpu_ticks "$mq_broker_pid")
  sw_after=$(switches "$mq_broker_pid")
  mq_kill_started
  python3 - "$d/out.json" "$d/time" "$before" "$after" "$(getconf CLK_TCK)" "$rate" "$sw_before" "$sw_after" \
    "$floor" <<'PY'
import json, re, sys
out, timef, before, after, hz, rate, sw_before, sw_after, floor = sys.argv[1:10]
try:
    o = json.load(open(out))
except ValueError:
    o = {"received": 0, "error": open(out).read().strip()}
user, sys_ = map(float, open(timef).read().split()[-2:])
n = max(o.get("received", 0) + o.get("warmup_received", 0), 1)  # the CPU counts cover the warm-up too
row = {"rate": int(rate), "broker_cpu_us_per_msg": round((int(after) - int(before)) / int(hz) * 1e6 / n, 1),
       "client_cpu_us_per_msg": round((user + sys_) * 1e6 / n, 1),
       "broker_switches_per_msg": round((int(sw_after) - int(sw_before)) / n, 2), "mqbench": o}
if floor:
    p99 = re.search(r"p99 ([0-9.]+) ms", floor)
    cores = re.search(r"\(([0-9.]+) cores\)", floor)
    row["floor"] = {"p99_us": round(float(p99.group(1)) * 1000), "cores": float(cores.group(1))} if p99 and cores \
        else {"error": floor}
print(json.dumps(row))
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
      f"over 2 ms {col(lambda r: round(100 * r['mqbench'].get('over_2ms', 0) / max(r['mqbench'].get('received', 0), 1), 2))} %, "
      f"broker {col(lambda r: r['broker_cpu_us_per_msg'])} us/msg, client {col(lambda r: r['client_cpu_us_per_msg'])} us/msg, "
      f"broker context switches {col(lambda r: r['broker_switches_per_msg'])} per msg")
if all("p99_us" in r.get("floor", {}) for r in rows):
    print(f"rate {rows[0]['rate']}: floor (loopback_floor --stream) p99 {col(lambda r: r['floor']['p99_us'])} us, "
          f"{col(lambda r: r['floor']['cores'])} cores")
PY
done
