#!/usr/bin/env bash
# Where a durable produce round trip goes: runs durable produce (SYNC_FLUSH broker, `mqbench
# producer --mode sync -w 50`, 1 KiB) against a fresh local NameServer + broker, records a
# scheduler and system-call timeline of the whole machine for SECONDS_TRACED (0.25) with perf,
# and prints, over every cycle between two commit log syncs, the median and mean of each step:
# the broker's reply, the client reading it, the senders' wake-ups, the next request, the
# broker's append and the sync (durable_cycle.py). Needs perf (Debian's linux-perf) and root.
# Loopback only; temp dirs removed.
#   tools/benchmark/durable_cycle.sh
#   SECONDS_TRACED=0.5 COUNT=300000 THREADS=50 tools/benchmark/durable_cycle.sh
# MQ_BIN selects the binaries (default: build/bin of this checkout).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
mq_bin="${MQ_BIN:-$root/build/bin}"
# shellcheck source=tools/benchmark/local_cluster.sh
source "$root/tools/benchmark/local_cluster.sh"
command -v perf >/dev/null || { echo "durable_cycle.sh: perf is missing (apt-get install -y linux-perf)" >&2; exit 1; }
mq_bench_tmpdir mq-cycle
dir="$mq_dir"
mq_start_cluster "$dir" --set flushDiskType=SYNC_FLUSH
mq_create_topic "$dir" CycleBench
"$mq_bin/mqbench" producer -n "$mq_ns" -t CycleBench -s 1024 -w "${THREADS:-50}" --mode sync \
  --count "${COUNT:-200000}" --json 2>/dev/null | tail -1 >"$dir/out.json" &
bench=$!
sleep 2  # warm-up: routes, connections and the first requests are not what is measured
events=(-e sched:sched_switch -e sched:sched_wakeup)
for call in msync fdatasync sendmsg recvmsg recvfrom pwritev pwrite64; do
  events+=(-e "syscalls:sys_enter_$call" -e "syscalls:sys_exit_$call")
done
perf record "${events[@]}" -a -o "$dir/perf.data" -- sleep "${SECONDS_TRACED:-0.25}" >/dev/null 2>&1
wait "$bench"
perf script -i "$dir/perf.data" -F comm,tid,cpu,time,event,trace 2>/dev/null >"$dir/timeline.txt"
python3 - "$dir/out.json" <<'PY'
import json, sys
o = json.load(open(sys.argv[1]))
print(f"mqbench: {o['tps']:.0f} msg/s (traced run), {o['sent']} sent, {o['requests']} requests")
PY
python3 "$root/tools/benchmark/durable_cycle.py" "$dir/timeline.txt"
