#!/usr/bin/env bash
# Sets everything up and runs a local cluster in the foreground: installs missing Debian
# packages, builds Release into build/, and starts a NameServer on 127.0.0.1:9876 and one
# master broker (broker-a) on 127.0.0.1:10911 with its store and logs under ./data/.
# Ctrl-C stops everything cleanly (the broker unregisters and flushes first).
#   NAMESRV_PORT=9876 BROKER_PORT=10911 GRPC_PORT=8081 ./tools/quickstart.sh
set -euo pipefail
source "$(dirname "$0")/deps.sh"
mq_ensure_deps

echo "==> building (Release) in build/"
mq_build "$MQ_ROOT/build" "-DCMAKE_BUILD_TYPE=Release -DMQ_WERROR=ON" mqnamesrv mqbroker mqadmin broker_bench namesrv_bench

data="$MQ_ROOT/data"
mkdir -p "$data/namesrv/logs" "$data/broker-a/logs"
port=${NAMESRV_PORT:-9876}
broker_port=${BROKER_PORT:-10911}
grpc_port=${GRPC_PORT:-8081}

pids=()
stop() {
  trap '' INT TERM  # a second Ctrl-C must not cut the orderly shutdown short
  echo
  echo "==> stopping"
  # Broker first (it unregisters from the NameServer), then the NameServer.
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill -TERM "${pids[i]}" 2>/dev/null || true
    wait "${pids[i]}" 2>/dev/null || true
  done
  echo "==> stopped"
  exit 0
}
trap stop INT TERM

# wait_ready FILE PID NAME: polls (bounded: 30 s) until a daemon writes its ready file.
wait_ready() {
  for _ in $(seq 1 300); do
    [[ -s "$1" ]] && return 0
    if ! kill -0 "$2" 2>/dev/null; then echo "$3 failed to start; see its log under $data" >&2; stop; fi
    sleep 0.1
  done
  echo "$3 did not become ready within 30 s" >&2
  stop
}

rm -f "$data/namesrv/ready" "$data/broker-a/ready"
"$MQ_ROOT/build/bin/mqnamesrv" -c "$MQ_ROOT/conf/namesrv.conf" --listen "127.0.0.1:$port" \
  --set "logDir=$data/namesrv/logs" --ready-file "$data/namesrv/ready" &
pids+=($!)
wait_ready "$data/namesrv/ready" "${pids[0]}" mqnamesrv

"$MQ_ROOT/build/bin/mqbroker" -c "$MQ_ROOT/conf/broker.conf" -n "127.0.0.1:$port" \
  --listen-port "$broker_port" --store-dir "$data/broker-a/store" \
  --set brokerIP1=127.0.0.1 --set bindAddress=127.0.0.1 --set "logDir=$data/broker-a/logs" \
  --set "grpcServerPort=$grpc_port" \
  --ready-file "$data/broker-a/ready" &
pids+=($!)
wait_ready "$data/broker-a/ready" "${pids[1]}" mqbroker

cat <<INFO

  NameServer  127.0.0.1:$port        (logs: data/namesrv/logs/namesrv.log)
  Broker      127.0.0.1:$broker_port       broker-a, master  (store: data/broker-a/store, logs: data/broker-a/logs)
  RocketMQ 5  127.0.0.1:$grpc_port        apache.rocketmq.v2 endpoint of broker-a for the official SDKs (Node.js, Java, Go, ...)

  Try next, in another terminal:
    export NAMESRV_ADDR=127.0.0.1:$port
    ./build/bin/mqadmin clusterList
    ./build/bin/mqadmin sendMessage -t TopicTest -p "hello" -c TagA -k order-1
    ./build/bin/mqadmin consumeMessage -t TopicTest -c 10
    ./build/bin/mqadmin topicStatus -t TopicTest
    # throughput: 10,000 messages of 1 KiB, then drain them
    ./build/bin/broker_bench -b 127.0.0.1:$broker_port -t BenchTopic --mode both --count 10000
    ./build/bin/mqbroker -p                 # every broker config key and its value

  Ctrl-C stops the cluster.
INFO

wait
