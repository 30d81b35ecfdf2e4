#!/usr/bin/env bash
# Side-by-side benchmark of mq against NATS JetStream and Redis streams on this machine (issue
# 11; docs/benchmarks.md "Side by side with NATS JetStream and Redis"). A benchmark, never a
# test: not in tools/test.sh nor .ci/run.
#
# Installs what it misses from Debian (nats-server, redis-server, redis-tools, libnats-dev, a C
# compiler, jq), builds the project's Release tools into build/ if they are missing, builds the
# NATS load generator (nats_bench.c) into its temp dir, and for each run and case starts fresh
# servers on 127.0.0.1 (free ports, temp dirs), one side at a time, so that the two sides never
# share the machine with each other. Stopped servers' data dirs are deleted and every load
# generator starts after a `sync`, so no run shares the disk with an earlier run's writeback:
#   async    mqbench producer --mode async -w 2 --window 4096 (ASYNC_FLUSH broker)
#            vs nats_bench pub: JetStream async publish, 2 publishers, 4096 pending acks each
#   batch    mqbench producer --batch 64 -w 2 (ASYNC_FLUSH) vs the same NATS figure
#   consume  mqbench consumer --from-first of a pre-filled backlog (ASYNC_FLUSH)
#            vs nats_bench fetch: JetStream pull consumer, fetch batch 500, of a pre-filled stream
#   durable  mqbench producer --mode sync -w 50 (SYNC_FLUSH) vs redis-benchmark -c 50 XADD into
#            one stream on a redis-server with appendonly yes, appendfsync always
# 1 KiB bodies everywhere. Only acknowledged successes count: mqbench's "sent" is SEND_OK only,
# nats_bench counts publish acks from the stream, Redis counts the entries in the stream (XLEN).
# Prints one table (median of the runs, min-max) and every command it ran.
#
#   ./tools/benchmark/peers.sh                        RUNS=3 DURATION=10, all cases
#   RUNS=1 DURATION=5 CASES="async durable" ./tools/benchmark/peers.sh
# Options (environment):
#   RUNS=3          runs of every case; the table shows the median and the min-max spread
#   DURATION=10     seconds of each timed produce run
#   CASES="async batch consume durable"
#   BACKLOG=300000  messages pre-filled for the consume case (each side)
#   MQ_BIN=dir      use the mq binaries in dir instead of build/bin (built when missing)
#   WAIT_LOAD=2     before starting, wait (polling every minute, at most 20 minutes) until the
#                   1-minute load average is below this; off when empty
#   LOG_DIR=dir     keep every tool's output and the command list in dir
set -uo pipefail

RUNS=${RUNS:-3}
DURATION=${DURATION:-10}
CASES=${CASES:-"async batch consume durable"}
BACKLOG=${BACKLOG:-300000}
WAIT_LOAD=${WAIT_LOAD:-}
LOG_DIR=${LOG_DIR:-}
BODY_BYTES=1024

die() {
  echo "peers.sh: $*" >&2
  exit 1
}

[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer, got '$RUNS'"
[[ $DURATION =~ ^[1-9][0-9]*$ ]] || die "DURATION must be a positive integer (seconds), got '$DURATION'"
[[ $BACKLOG =~ ^[1-9][0-9]*$ ]] || die "BACKLOG must be a positive integer, got '$BACKLOG'"
[[ -z $WAIT_LOAD || $WAIT_LOAD =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "WAIT_LOAD must be a number, got '$WAIT_LOAD'"
for c in $CASES; do
  [[ $c =~ ^(async|batch|consume|durable)$ ]] || die "unknown case '$c' in CASES (async batch consume durable)"
done
has_case() { [[ " $CASES " == *" $1 "* ]]; }

# --- dependencies and binaries ------------------------------------------------------------
# deps.sh's installer walks MQ_DEBIAN_PACKAGES; the peers' packages join the project's there.
source "$(dirname "${BASH_SOURCE[0]}")/../deps.sh"
set +e  # deps.sh sets -e for itself; failures here are checked one by one
MQ_DEBIAN_PACKAGES+=(nats-server redis-server redis-tools libnats-dev gcc libc6-dev jq procps)
mq_ensure_deps || die "could not install the Debian packages"

MQ_BIN=${MQ_BIN:-$MQ_ROOT/build/bin}
missing_bin=()
for b in mqnamesrv mqbroker mqbench; do [[ -x $MQ_BIN/$b ]] || missing_bin+=("$b"); done
if ((${#missing_bin[@]})); then
  [[ $MQ_BIN == "$MQ_ROOT/build/bin" ]] || die "MQ_BIN=$MQ_BIN lacks ${missing_bin[*]}"
  echo "==> building ${missing_bin[*]} (Release) into $MQ_ROOT/build"
  mq_build "$MQ_ROOT/build" "-DCMAKE_BUILD_TYPE=Release -DMQ_WERROR=ON" mqnamesrv mqbroker mqbench ||
    die "build failed"
fi
cache=$MQ_BIN/../CMakeCache.txt
if [[ -f $cache ]] && ! grep -q '^CMAKE_BUILD_TYPE:[A-Z]*=Release$' "$cache"; then
  echo "peers.sh: warning: $MQ_BIN is not a Release build; figures will be low" >&2
fi

D=$(mktemp -d /tmp/mqpeers.XXXXXX)
PIDS=()  # servers and samplers started by this script, stopped by stop_all
DATA_DIRS=()  # the running servers' stores, deleted when they stop
stop_all() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  PIDS=()
  # Deleting drops their dirty pages unwritten: the next case does not pay for their writeback.
  ((${#DATA_DIRS[@]})) && rm -rf "${DATA_DIRS[@]}"
  DATA_DIRS=()
}
TOOL_PID=
cleanup() {
  [[ -n $TOOL_PID ]] && PIDS+=("$TOOL_PID")
  stop_all
  if [[ -n $LOG_DIR ]]; then
    mkdir -p "$LOG_DIR" && cp "$D"/*.out "$D"/*.err "$D/commands.txt" "$LOG_DIR"/ 2>/dev/null
  fi
  rm -rf "$D"
}
trap cleanup EXIT
trap 'echo "peers.sh: interrupted" >&2; exit 130' INT TERM

read -ra NATS_FLAGS <<<"$(pkg-config --cflags --libs libnats)"
cc -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -o "$D/nats_bench" \
  "$MQ_ROOT/tools/benchmark/nats_bench.c" "${NATS_FLAGS[@]}" -lpthread ||
  die "could not build nats_bench.c (libnats-dev)"
NATS_BENCH=$D/nats_bench

# --- waiting for a quiet machine ----------------------------------------------------------
load1() { cut -d' ' -f1 /proc/loadavg; }
if [[ -n $WAIT_LOAD ]]; then
  for i in $(seq 0 20); do
    awk -v l="$(load1)" -v w="$WAIT_LOAD" 'BEGIN { exit !(l < w) }' && break
    ((i == 20)) && { echo "==> load average still $(load1) after 20 minutes; running anyway"; break; }
    echo "==> load average $(load1) >= $WAIT_LOAD; waiting a minute ($i/20)"
    sleep 60
  done
fi

# --- logging commands ---------------------------------------------------------------------
BODY1K=$(head -c $BODY_BYTES /dev/zero | tr '\0' x)
RUN=0
# Records a command line as it can be pasted into a shell (the 1 KiB body shown as "$BODY1K").
log_cmd() {
  local line="" a
  for a in "$@"; do
    if [[ $a == "$BODY1K" ]]; then line+='"$BODY1K" '; else line+="$(printf '%q' "$a") "; fi
  done
  echo "[run $RUN] ${line% }" >>"$D/commands.txt"
}
# run_tool NAME cmd... : runs a load generator, its stdout in $D/NAME.out (stderr .err).
run_tool() {
  local name=$1
  shift
  log_cmd "$@"
  sync  # what is still dirty (a fill, a stopped server's log) is written back before, not during
  # In the background so that Ctrl-C or TERM reaches the trap at once (bash runs traps only
  # between foreground commands, but interrupts `wait`); cleanup stops the tool.
  "$@" >"$D/$name.out" 2>"$D/$name.err" &
  TOOL_PID=$!
  wait "$TOOL_PID"
  local rc=$?
  TOOL_PID=
  return $rc
}
# The last JSON line a tool printed, or {} when it printed none.
last_json() { grep '^{' "$D/$1.out" 2>/dev/null | tail -1 | grep . || echo '{}'; }
# wait_for CONDITION... : polls the condition every 50 ms for at most 20 s.
wait_for() {
  for _ in $(seq 400); do "$@" && return 0; sleep 0.05; done
  return 1
}

# --- servers ------------------------------------------------------------------------------
# start_mq FLUSH_TYPE : one NameServer and one broker; sets NS and BROKER_PID.
start_mq() {
  local dir=$D/mq-$RUN-$1-$RANDOM
  mkdir -p "$dir"
  DATA_DIRS+=("$dir/store")
  log_cmd "$MQ_BIN/mqnamesrv" --listen 127.0.0.1:0 --ready-file "$dir/ns.ready" --set logLevel=warn
  "$MQ_BIN/mqnamesrv" --listen 127.0.0.1:0 --ready-file "$dir/ns.ready" --set logLevel=warn \
    >"$dir/ns.log" 2>&1 &
  PIDS+=($!)
  wait_for test -s "$dir/ns.ready" || die "mqnamesrv did not start (see $dir/ns.log)"
  NS=$(cat "$dir/ns.ready")
  local broker=("$MQ_BIN/mqbroker" -n "$NS" --listen-port 0 --store-dir "$dir/store"
    --set brokerIP1=127.0.0.1 --set bindAddress=127.0.0.1 --set haListenPort=0
    --set "flushDiskType=$1" --set logLevel=warn --ready-file "$dir/broker.ready")
  log_cmd "${broker[@]}"
  "${broker[@]}" >"$dir/broker.log" 2>&1 &
  BROKER_PID=$!
  PIDS+=("$BROKER_PID")
  wait_for test -s "$dir/broker.ready" || die "mqbroker did not start (see $dir/broker.log)"
  # The broker's peak anonymous memory (issue 11 bounds it), sampled until it exits.
  RSS_FILE=$dir/rss_anon_kb
  echo 0 >"$RSS_FILE"
  (
    max=0
    while kill -0 "$BROKER_PID" 2>/dev/null; do
      kb=$(awk '/^RssAnon:/ {print $2}' "/proc/$BROKER_PID/status" 2>/dev/null)
      # Replaced, never rewritten in place: record_rss may read it at any moment.
      if [[ -n $kb ]] && ((kb > max)); then max=$kb && echo "$max" >"$RSS_FILE.new" && mv -f "$RSS_FILE.new" "$RSS_FILE"; fi
      sleep 0.2
    done
  ) &
  PIDS+=($!)
}

# start_nats : nats-server with JetStream (file store in a temp dir); sets NATS_URL.
start_nats() {
  local dir=$D/nats-$RUN-$RANDOM
  mkdir -p "$dir"
  DATA_DIRS+=("$dir/js")
  local cmd=(nats-server -js -a 127.0.0.1 -p -1 -sd "$dir/js" --ports_file_dir "$dir" -l "$dir/nats.log")
  log_cmd "${cmd[@]}"
  "${cmd[@]}" &
  local pid=$!
  PIDS+=("$pid")
  wait_for test -s "$dir/nats-server_$pid.ports" || die "nats-server did not start (see $dir/nats.log)"
  NATS_URL=$(jq -r '(.nats // .client)[0]' "$dir/nats-server_$pid.ports")
  [[ $NATS_URL == nats://127.0.0.1:* ]] || die "nats-server reported no loopback client URL"
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
redis_up() { [[ $(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]]; }
# start_redis : redis-server, AOF on and fsynced on every write; sets REDIS_PORT.
start_redis() {
  local dir=$D/redis-$RUN-$RANDOM pid
  mkdir -p "$dir/data"
  DATA_DIRS+=("$dir/data")
  for _ in 1 2 3 4 5; do
    REDIS_PORT=$((20000 + RANDOM % 30000))
    port_free "$REDIS_PORT" || continue
    local cmd=(redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$dir/data" --appendonly yes
      --appendfsync always --save '' --daemonize no --logfile "$dir/redis.log")
    "${cmd[@]}" &
    pid=$!
    PIDS+=("$pid")
    if wait_for redis_up; then
      log_cmd "${cmd[@]}"
      return 0
    fi
    kill -KILL "$pid" 2>/dev/null  # most likely the port was taken meanwhile: try another
  done
  die "redis-server did not start (see $dir/redis.log)"
}

# --- results ------------------------------------------------------------------------------
declare -A RESULTS  # "case/side" -> space-separated msg/s, one per run
declare -A NOTES    # "case/side" -> anything that went wrong
declare -A RSS      # "case" -> broker peak RssAnon MiB, one per run
record() {  # case side rate [note]
  if [[ $3 == 0 && -z ${4:-} ]]; then set -- "$1" "$2" 0 "no result (LOG_DIR=dir keeps the tools' output)"; fi
  RESULTS[$1/$2]+="$3 "
  [[ -n ${4:-} ]] && NOTES[$1/$2]+="run $RUN: $4; "
  printf '    %-8s %-5s %12.0f msg/s%s\n' "$1" "$2" "$3" "${4:+  ($4)}"
}
record_rss() { RSS[$1]+="$(($(cat "$RSS_FILE") / 1024)) "; }
jget() { jq -r "$2 // 0" <<<"$1"; }

# mq_producer CASE NAME mqbench-args... : one timed mqbench producer run.
mq_producer() {
  local case=$1 name=$2
  shift 2
  run_tool "$name" "$MQ_BIN/mqbench" producer -n "$NS" -s $BODY_BYTES -d "$DURATION" --json "$@"
  local j failed
  j=$(last_json "$name")
  failed=$(jget "$j" .failed)
  record "$case" mq "$(jget "$j" .tps)" "$([[ $failed != 0 ]] && echo "$failed failed sends: $(jq -c .status <<<"$j")")"
}

nats_pub_run() {
  run_tool "nats-pub-$RUN" "$NATS_BENCH" pub -s "$NATS_URL" --stream BENCH --subject bench.x -w 2 \
    --pending 4096 -b $BODY_BYTES -d "$DURATION"
  local j failed note=""
  j=$(last_json "nats-pub-$RUN")
  failed=$(jget "$j" .failed)
  [[ $failed != 0 ]] && note="$failed publishes not acked"
  record async nats "$(jget "$j" .msgs_per_sec)" "$note"
}

# --- the cases ----------------------------------------------------------------------------
case_async() {
  start_mq ASYNC_FLUSH
  mq_producer async "mq-async-$RUN" -t PeersAsync --mode async -w 2 --window 4096
  record_rss async
  stop_all
}

case_batch() {
  start_mq ASYNC_FLUSH
  mq_producer batch "mq-batch-$RUN" -t PeersBatch --batch 64 -w 2
  record_rss batch
  stop_all
}

case_nats_publish() {
  start_nats
  nats_pub_run
  stop_all
}

case_consume() {
  local j filled note
  start_mq ASYNC_FLUSH
  # The backlog is written with batches (fast); how it was written does not matter to the reader.
  run_tool "mq-fill-$RUN" "$MQ_BIN/mqbench" producer -n "$NS" -t PeersBacklog -s $BODY_BYTES --batch 64 -w 2 \
    --count "$BACKLOG" -d 600 --json
  filled=$(jget "$(last_json "mq-fill-$RUN")" .sent)
  if ((filled == 0)); then
    record consume mq 0 "backlog fill failed"
  else
    run_tool "mq-consume-$RUN" "$MQ_BIN/mqbench" consumer -n "$NS" -t PeersBacklog -g PeersBacklogGroup \
      -s $BODY_BYTES --from-first --count "$filled" -d 120 --json
    j=$(last_json "mq-consume-$RUN")
    note=""
    (($(jget "$j" .received) < filled)) && note="received $(jget "$j" .received) of $filled"
    record consume mq "$(jget "$j" .tps)" "$note"
  fi
  record_rss consume
  stop_all

  start_nats
  run_tool "nats-fill-$RUN" "$NATS_BENCH" pub -s "$NATS_URL" --stream BACKLOG --subject backlog.x -w 2 \
    --pending 4096 -b $BODY_BYTES --count "$BACKLOG" -d 600
  filled=$(jget "$(last_json "nats-fill-$RUN")" .messages)
  if ((filled == 0)); then
    record consume nats 0 "backlog fill failed"
  else
    run_tool "nats-fetch-$RUN" "$NATS_BENCH" fetch -s "$NATS_URL" --stream BACKLOG --subject backlog.x \
      --durable peers --batch 500 -b $BODY_BYTES --count "$filled" -d 120
    j=$(last_json "nats-fetch-$RUN")
    note=""
    (($(jget "$j" .messages) < filled)) && note="received $(jget "$j" .messages) of $filled"
    record consume nats "$(jget "$j" .msgs_per_sec)" "$note"
  fi
  stop_all
}

# redis-benchmark runs a request count, not a duration: a short first run (which also warms the
# server up) sizes the timed one to about DURATION seconds.
redis_xadd() {  # name key requests -> prints rps
  run_tool "$1" redis-benchmark -h 127.0.0.1 -p "$REDIS_PORT" -c 50 -n "$3" --csv XADD "$2" '*' f "$BODY1K"
  awk -F'"' 'END { print ($4 == "" ? 0 : $4) }' "$D/$1.out"
}

case_durable() {
  start_mq SYNC_FLUSH
  mq_producer durable "mq-durable-$RUN" -t PeersDurable --mode sync -w 50
  record_rss durable
  stop_all

  start_redis
  local rps0 n rps xlen note=""
  rps0=$(redis_xadd "redis-warmup-$RUN" warmup 5000)
  n=$(awk -v r="$rps0" -v d="$DURATION" 'BEGIN { n = int(r * d); print (n < 5000 ? 5000 : n) }')
  rps=$(redis_xadd "redis-xadd-$RUN" bench "$n")
  log_cmd redis-cli -h 127.0.0.1 -p "$REDIS_PORT" XLEN bench
  xlen=$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" XLEN bench 2>/dev/null)
  [[ $xlen =~ ^[0-9]+$ ]] || xlen=0
  ((xlen < n)) && note="only $xlen of $n XADDs stored"
  # Only the entries that are in the stream count, at the rate redis-benchmark timed.
  record durable redis "$(awk -v r="$rps" -v x="$xlen" -v n="$n" 'BEGIN { printf "%.1f", r * x / n }')" "$note"
  stop_all
}

# --- main ---------------------------------------------------------------------------------
START_DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
START_LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
echo "==> peers.sh: RUNS=$RUNS DURATION=$DURATION CASES=\"$CASES\" BACKLOG=$BACKLOG MQ_BIN=$MQ_BIN"
echo "==> load average at start: $START_LOAD"
for RUN in $(seq 1 "$RUNS"); do
  echo "==> run $RUN of $RUNS (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  has_case async && case_async
  has_case batch && case_batch
  { has_case async || has_case batch; } && case_nats_publish
  has_case consume && case_consume
  has_case durable && case_durable
done
END_LOAD=$(cut -d' ' -f1-3 /proc/loadavg)

# stats "v1 v2 ..." -> "median min max"
stats() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{ v[NR] = $1 } END {
  if (NR == 0) { print "0 0 0"; exit }
  m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; print m, v[1], v[NR] }'; }
group() { printf '%.0f' "$1" | sed -e ':a' -e 's/\B[0-9]\{3\}\>/,&/' -e 'ta'; }  # 12345.6 -> 12,346
fmt_rate() {  # "median min max" -> "12,345 (11,000-13,000)"
  local m lo hi
  read -r m lo hi <<<"$1"
  if ((RUNS == 1)); then group "$m"; else echo "$(group "$m") ($(group "$lo")-$(group "$hi"))"; fi
}

row() {  # case mq-key peer-key goal label
  local case=$1 mqk=$2 peerk=$3 goal=$4 label=$5 mqs peers ratio met
  mqs=$(stats "${RESULTS[$mqk]:-}")
  peers=$(stats "${RESULTS[$peerk]:-}")
  ratio=$(awk -v a="${mqs%% *}" -v b="${peers%% *}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
  met=$(awk -v r="$ratio" -v g="$goal" 'BEGIN { print (r != "-" && r + 0 >= g) ? "met" : "not met" }')
  printf '| %s | %s | %s | %sx | >= %sx (%s) |\n' "$label" "$(fmt_rate "$mqs")" "$(fmt_rate "$peers")" \
    "$ratio" "$goal" "$met"
}

echo
echo "## mq vs peers: $START_DATE, $RUNS run(s) of ${DURATION} s, 1 KiB bodies"
echo
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load average $START_LOAD at start, $END_LOAD at end"
echo "mq: $MQ_BIN, source tree at $(git -C "$MQ_ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
echo "versions: $(nats-server --version 2>&1 | head -1), $(redis-server --version | cut -d' ' -f1-3), libnats $(pkg-config --modversion libnats)"
echo
echo "| case | mq msg/s | peer msg/s | ratio | goal |"
echo "|---|---|---|---|---|"
has_case async && row async async/mq async/nats 1.5 \
  'async produce: `mqbench producer --mode async -w 2 --window 4096` (ASYNC_FLUSH) vs NATS JetStream async publish, 2 publishers'
has_case batch && row batch batch/mq async/nats 2 \
  'batch produce: `mqbench producer --batch 64 -w 2` (ASYNC_FLUSH) vs the same NATS figure'
has_case consume && row consume consume/mq consume/nats 1.5 \
  "backlog consume: \`mqbench consumer --from-first\` vs NATS JetStream pull fetch, batch 500 ($BACKLOG messages each)"
has_case durable && row durable durable/mq durable/redis 1.5 \
  'durable produce: `mqbench producer --mode sync -w 50` (SYNC_FLUSH) vs Redis XADD, appendfsync always, 50 clients'
echo
echo "Figures: median of $RUNS run(s), (min-max). Ratio = mq median / peer median."
echo -n "mq broker peak RssAnon (MiB, per run):"
for c in async batch consume durable; do [[ -n ${RSS[$c]:-} ]] && echo -n " $c ${RSS[$c]% };"; done
echo
for k in "${!NOTES[@]}"; do echo "note: $k: ${NOTES[$k]}"; done
echo
printf '%s\n' "Commands (BODY1K=\$(head -c 1024 /dev/zero | tr '\\0' x)):"
echo '```'
cat "$D/commands.txt"
echo '```'
