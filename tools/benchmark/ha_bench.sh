#!/usr/bin/env bash
# Replication benchmark (docs/benchmarks.md): ASYNC_MASTER vs SYNC_MASTER with one slave on
# this host (loopback only: ports 21911/21912 and 22911/22912), then the catch-up speed of a
# slave restarted behind a backlog. Needs the Release build in build/ (./tools/test.sh).
# ROLES="SYNC_MASTER" runs one mode only (the catch-up runs with ASYNC_MASTER).
set -u
B=${B:-$(cd "$(dirname "$0")/../.." && pwd)/build/bin}
D=$(mktemp -d /tmp/habench.XXXX)
$B/mqnamesrv --listen 127.0.0.1:0 --ready-file $D/ns --set logLevel=warn >/dev/null 2>&1 &
NSP=$!
for _ in $(seq 100); do [[ -s $D/ns ]] && break; sleep 0.05; done
NS=$(cat $D/ns)
start_broker() {  # name role id port ha extra...
  local name=$1 role=$2 id=$3 port=$4 ha=$5; shift 5
  rm -f $D/$name.ready
  $B/mqbroker -n $NS --listen-port $port --store-dir $D/$name --set brokerIP1=127.0.0.1 --set bindAddress=127.0.0.1 \
    --set brokerRole=$role --set brokerId=$id --set haListenPort=$ha --set logLevel=warn --ready-file $D/$name.ready "$@" >/dev/null 2>&1 &
  echo $! > $D/$name.pid
  for _ in $(seq 200); do [[ -s $D/$name.ready ]] && break; sleep 0.05; done
}
lag0() { $B/mqadmin haStatus -n $NS -b 127.0.0.1:$1 --json 2>/dev/null | grep -q '"lagBytes":"0"'; }
for role in ${ROLES:-ASYNC_MASTER SYNC_MASTER}; do
  rm -rf $D/m $D/s
  start_broker m $role 0 21911 21912
  start_broker s SLAVE 1 22911 22912
  for _ in $(seq 200); do $B/mqadmin haStatus -n $NS -b 127.0.0.1:21911 --json 2>/dev/null | grep -q '"slaveCount":"1"' && break; sleep 0.1; done
  echo "== $role + 1 slave"
  $B/broker_bench -b 127.0.0.1:21911 -t HaBench --mode send --count 100000 -s 1024 --connections 2 --window 64 --queues 4
  $B/broker_bench -b 127.0.0.1:21911 -t HaBatch --mode send --count 160000 -s 1024 --connections 2 --window 16 --queues 4 --batch 16
  if [[ $role == ASYNC_MASTER ]]; then
    maxoff() { $B/mqadmin brokerStatus -n $NS -b 127.0.0.1:21911 --json 2>/dev/null | grep -o '"commitLogMaxOffset":"[0-9]*"' | grep -o '[0-9]*'; }
    kill -TERM $(cat $D/s.pid); wait $(cat $D/s.pid) 2>/dev/null
    before=$(maxoff)
    $B/broker_bench -b 127.0.0.1:21911 -t Backlog --mode send --count 200000 -s 1024 --connections 2 --window 16 --queues 4 --batch 16 >/dev/null
    backlog=$(( $(maxoff) - before ))
    t0=$(date +%s.%N)
    start_broker s SLAVE 1 22911 22912
    for _ in $(seq 1200); do
      s=$($B/mqadmin haStatus -n $NS -b 127.0.0.1:21911 --json 2>/dev/null)
      echo "$s" | grep -q '"slaveCount":"1"' && echo "$s" | grep -q '"lagBytes":"0"' && break
      sleep 0.05
    done
    t1=$(date +%s.%N)
    secs=$(echo "$t1 - $t0" | bc)
    echo "catch-up: slave restarted $((backlog/1048576)) MiB behind; lag 0 after ${secs} s (includes process start and reconnect) = $(echo "$backlog / 1048576 / $secs" | bc) MiB/s"
  fi
  kill -TERM $(cat $D/m.pid) $(cat $D/s.pid) 2>/dev/null; wait $(cat $D/m.pid) $(cat $D/s.pid) 2>/dev/null
done
kill $NSP; wait 2>/dev/null
rm -rf $D
