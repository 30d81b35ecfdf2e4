# shellcheck shell=bash disable=SC2154  # mq_bin is set by the script that sources this
# Sourced by the benchmark scripts that run against a throw-away NameServer + broker on
# 127.0.0.1 (free ports, stores and logs in a temp dir). Not a test: nothing in CI sources it.
# The caller sets mq_bin (the directory holding mqnamesrv, mqbroker and mqadmin).
#   mq_bench_tmpdir PREFIX        mq_dir = a new temp dir; on exit every started process is
#                                 killed and mq_dir removed
#   mq_start_cluster DIR [ARGS]   NameServer + broker (ARGS go to mqbroker, e.g. --set k=v) with
#                                 their files in DIR; sets mq_ns, mq_ns_pid, mq_broker_pid
#   mq_create_topic DIR TOPIC     TOPIC with 4 read and 4 write queues on DefaultCluster
#   mq_kill_started               kills what mq_start_cluster started (e.g. in a subshell's trap)
#   mq_cpu_ticks PID              user + sys clock ticks of PID so far
mq_pids=()

mq_kill_started() {
  for p in "${mq_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}

mq_bench_tmpdir() {
  mq_dir="$(mktemp -d "/tmp/$1.XXXXXX")"
  trap 'mq_kill_started; rm -rf "$mq_dir"' EXIT
}

mq_wait_file() {
  for _ in $(seq 100); do [[ -s "$1" ]] && return 0; sleep 0.1; done
  echo "no $1" >&2
  exit 1
}

mq_start_cluster() {
  local d="$1"
  shift
  "$mq_bin/mqnamesrv" --listen 127.0.0.1:0 --ready-file "$d/ns" --set logLevel=warn >"$d/ns.log" 2>&1 &
  mq_ns_pid=$!
  mq_pids+=("$mq_ns_pid")
  mq_wait_file "$d/ns"
  mq_ns="$(cat "$d/ns")"
  "$mq_bin/mqbroker" -n "$mq_ns" --listen-port 0 --store-dir "$d/store" --set brokerIP1=127.0.0.1 \
    --set bindAddress=127.0.0.1 --set logLevel=warn "$@" --ready-file "$d/b" >"$d/b.log" 2>&1 &
  mq_broker_pid=$!
  mq_pids+=("$mq_broker_pid")
  mq_wait_file "$d/b"
}

mq_create_topic() {
  local d="$1" topic="$2" tries=0
  # The ready file can precede the broker's first registration with the NameServer.
  until "$mq_bin/mqadmin" updateTopic -n "$mq_ns" -c DefaultCluster -t "$topic" -r 4 -w 4 >/dev/null \
    2>"$d/admin.err"; do
    ((++tries < 100)) || { cat "$d/admin.err" >&2; exit 1; }
    sleep 0.1
  done
}

mq_cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# The machine's busy and idle (idle + iowait) clock ticks so far, all CPUs: "busy idle".
mq_machine_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8, $5 + $6}' /proc/stat; }
