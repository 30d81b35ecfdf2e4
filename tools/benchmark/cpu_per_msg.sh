#!/usr/bin/env bash
# CPU cost per message of one mqbench run against a fresh local NameServer + broker: prints
# msg/s and the broker's and the client's CPU microseconds per message (user + sys), a figure
# that moves much less than msg/s on a shared machine, and the whole machine's busy and idle CPU
# microseconds per message (/proc/stat: also counts kernel threads such as writeback, and the
# idle time a latency-bound run leaves). Loopback only; temp dirs removed.
#   tools/benchmark/cpu_per_msg.sh COUNT -- producer -s 1024 -w 2 --mode async --window 4096
#   BROKER_SETS="--set flushDiskType=SYNC_FLUSH" tools/benchmark/cpu_per_msg.sh 100000 -- producer -w 50 --mode sync
#   BACKLOG=1000000 tools/benchmark/cpu_per_msg.sh 1000000 -- consumer -g c1 --from-first
# MQ_BIN selects the binaries (default: build/bin of this checkout); BACKLOG=N async-produces N
# messages before the measured run (for a consumer); CLIENT_ENV is put in the measured mqbench's
# environment (e.g. CLIENT_ENV=LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2). The
# broker's figure is also split by thread name (broker_threads_us_per_msg).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
mq_bin="${MQ_BIN:-$root/build/bin}"
# shellcheck source=tools/benchmark/local_cluster.sh
source "$root/tools/benchmark/local_cluster.sh"
count="$1"
shift
[[ "${1:-}" == "--" ]] && shift
mq_bench_tmpdir mq-cpu
dir="$mq_dir"
# shellcheck disable=SC2086
mq_start_cluster "$dir" ${BROKER_SETS:-}
mq_create_topic "$dir" CpuBench
if [[ -n "${BACKLOG:-}" ]]; then
  "$mq_bin/mqbench" producer -n "$mq_ns" -t CpuBench -s 1024 -w 2 --mode async --window 4096 \
    --count "$BACKLOG" >/dev/null 2>&1
fi
# CPU ticks of each thread name of a process, as "name=ticks" words.
thread_ticks() {
  for t in /proc/"$1"/task/*; do
    echo "$(tr ' ' '_' <"$t/comm")=$(sed 's/.*) //' "$t/stat" | awk '{print $12 + $13}')"
  done 2>/dev/null | tr '\n' ' '
}
before=$(mq_cpu_ticks "$mq_broker_pid")
threads_before=$(thread_ticks "$mq_broker_pid")
machine_before=$(mq_machine_ticks)
# shellcheck disable=SC2086
/usr/bin/time -f "%U %S" -o "$dir/time" env ${CLIENT_ENV:-} "$mq_bin/mqbench" "$@" -n "$mq_ns" -t CpuBench \
  --count "$count" --json 2>/dev/null | tail -1 >"$dir/out.json" || true
after=$(mq_cpu_ticks "$mq_broker_pid")
threads_after=$(thread_ticks "$mq_broker_pid")
machine_after=$(mq_machine_ticks)
python3 - "$dir/out.json" "$dir/time" "$before" "$after" "$(getconf CLK_TCK)" "$machine_before" "$machine_after" \
  "$threads_before" "$threads_after" <<'PY'
import collections, json, sys
out, timef, before, after, hz = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
(busy0, idle0), (busy1, idle1) = (map(int, a.split()) for a in sys.argv[6:8])
def by_name(words):  # "name=ticks" per thread -> ticks per name
    total = collections.Counter()
    for w in words.split():
        name, _, ticks = w.rpartition("=")
        total[name] += int(ticks)
    return total
threads0, threads1 = by_name(sys.argv[8]), by_name(sys.argv[9])
o = json.load(open(out))
user, sys_ = map(float, open(timef).read().split()[-2:])
n = max(o.get("sent", o.get("received", 0)), 1)
print(json.dumps({"messages": n, "msgs_per_s": round(o["tps"]), "broker_cpu_us_per_msg": round((after - before) / hz * 1e6 / n, 1),
                  "client_cpu_us_per_msg": round((user + sys_) * 1e6 / n, 1),
                  "machine_busy_us_per_msg": round((busy1 - busy0) / hz * 1e6 / n, 1),
                  "machine_idle_us_per_msg": round((idle1 - idle0) / hz * 1e6 / n, 1),
                  "broker_threads_us_per_msg": {k: round((v - threads0[k]) / hz * 1e6 / n, 2)
                                                for k, v in threads1.most_common() if v > threads0[k]},
                  "mqbench": o}))
PY
