#!/usr/bin/env bash
# CPU cost per message of one mqbench run against a fresh local NameServer + broker: prints
# msg/s and the broker's and the client's CPU microseconds per message (user + sys), a figure
# that moves much less than msg/s on a shared machine. Loopback only; temp dirs removed.
#   tools/benchmark/cpu_per_msg.sh COUNT -- producer -s 1024 -w 2 --mode async --window 4096
#   BROKER_SETS="--set flushDiskType=SYNC_FLUSH" tools/benchmark/cpu_per_msg.sh 100000 -- producer -w 50 --mode sync
# MQ_BIN selects the binaries (default: build/bin of this checkout).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
bin="${MQ_BIN:-$root/build/bin}"
count="$1"
shift
[[ "${1:-}" == "--" ]] && shift
dir="$(mktemp -d /tmp/mq-cpu.XXXXXX)"
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
# shellcheck disable=SC2086
"$bin/mqbroker" -n "$ns" --listen-port 0 --store-dir "$dir/store" --set brokerIP1=127.0.0.1 \
  --set bindAddress=127.0.0.1 --set logLevel=warn ${BROKER_SETS:-} --ready-file "$dir/b" >"$dir/b.log" 2>&1 &
broker=$!
pids+=($broker)
wait_file "$dir/b"
"$bin/mqadmin" updateTopic -n "$ns" -c DefaultCluster -t CpuBench -r 4 -w 4 >/dev/null
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
before=$(ticks "$broker")
/usr/bin/time -f "%U %S" -o "$dir/time" "$bin/mqbench" "$@" -n "$ns" -t CpuBench --count "$count" --json \
  2>/dev/null | tail -1 >"$dir/out.json" || true
after=$(ticks "$broker")
python3 - "$dir/out.json" "$dir/time" "$before" "$after" "$(getconf CLK_TCK)" <<'PY'
import json, sys
out, timef, before, after, hz = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
o = json.load(open(out))
user, sys_ = map(float, open(timef).read().split()[-2:])
n = max(o.get("sent", o.get("received", 0)), 1)
print(json.dumps({"messages": n, "msgs_per_s": round(o["tps"]), "broker_cpu_us_per_msg": round((after - before) / hz * 1e6 / n, 1),
                  "client_cpu_us_per_msg": round((user + sys_) * 1e6 / n, 1), "mqbench": o}))
PY
