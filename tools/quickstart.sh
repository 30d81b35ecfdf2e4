#!/usr/bin/env bash
# Sets everything up and runs a local cluster in the foreground: installs missing Debian
# packages, builds Release into build/, and starts a NameServer on 127.0.0.1:9876 with its
# data and logs under ./data/. Ctrl-C stops everything cleanly.
#   NAMESRV_PORT=9876 ./tools/quickstart.sh
set -euo pipefail
source "$(dirname "$0")/deps.sh"
mq_ensure_deps

echo "==> building (Release) in build/"
mq_build "$MQ_ROOT/build" "-DCMAKE_BUILD_TYPE=Release -DMQ_WERROR=ON" mqnamesrv

data="$MQ_ROOT/data"
mkdir -p "$data/namesrv/logs"
port=${NAMESRV_PORT:-9876}

pids=()
stop() {
  echo
  echo "==> stopping"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  echo "==> stopped"
  exit 0
}
trap stop INT TERM

rm -f "$data/namesrv/ready"
"$MQ_ROOT/build/bin/mqnamesrv" -c "$MQ_ROOT/conf/namesrv.conf" --listen "127.0.0.1:$port" \
  --set "logDir=$data/namesrv/logs" --ready-file "$data/namesrv/ready" &
pids+=($!)

for _ in $(seq 1 100); do
  [[ -s "$data/namesrv/ready" ]] && break
  if ! kill -0 "${pids[0]}" 2>/dev/null; then echo "mqnamesrv failed to start; see $data/namesrv/logs" >&2; exit 1; fi
  sleep 0.1
done
[[ -s "$data/namesrv/ready" ]] || { echo "mqnamesrv did not become ready" >&2; stop; }

cat <<INFO

  NameServer  127.0.0.1:$port      (logs: data/namesrv/logs/namesrv.log)

  Try next:
    export NAMESRV_ADDR=127.0.0.1:$port
    ./build/bin/namesrv_bench -n \$NAMESRV_ADDR --topics 1000 --seconds 5   # register + query routes
    ./build/bin/mqnamesrv -p                                               # every config key and value

  Ctrl-C stops the cluster.
INFO

wait
