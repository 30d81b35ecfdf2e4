#!/usr/bin/env python3
"""Cuts a durable-produce timeline (durable_cycle.sh) into the steps of each round trip.

Input: `perf script -F comm,tid,cpu,time,event,trace` of sched_switch, sched_wakeup and the
enter/exit of msync, fdatasync, sendmsg, recvmsg, recvfrom, pwritev and pwrite64, recorded
machine-wide while one mqbench producer (threads named `mqbench`) sends to one SYNC_FLUSH broker.

Threads are told apart by what they do: the broker's reading threads (gRPC's, or mq-fast-io on
the fast send port) are the ones that append (pwritev/pwrite64), the flush thread is `mq-flush`,
the client's reading threads are the other `nexting_thread`s or `mq-fast-send`. A cycle runs from one commit log sync returning to the next one returning.
"""
import re
import statistics
import sys
from collections import Counter

LINE = re.compile(r"\s*(.+?)\s+(\d+)\s+\[(\d+)\]\s+([\d.]+):\s+(\S+):\s*(.*)")
SYNC_CALLS = ("msync", "fdatasync")
APPEND_CALLS = ("pwritev", "pwrite64")
READ_CALLS = ("recvmsg", "recvfrom")


def read_events(path):
    events = []
    with open(path) as f:
        for line in f:
            m = LINE.match(line)
            if not m:
                continue
            name = m.group(5).split(":")[-1]
            events.append((float(m.group(4)), m.group(1), int(m.group(2)), name, m.group(6)))
    events.sort()
    return events


def is_call(event, kind, calls):
    return any(event[3] == f"sys_{kind}_{c}" for c in calls)


def main(path):
    events = read_events(path)
    broker_io = {e[2] for e in events if is_call(e, "enter", APPEND_CALLS)}
    # The client reads replies on gRPC's threads, or on mq-fast-send over the fast send port.
    client_grpc = {e[2] for e in events
                   if e[1] in ("nexting_thread", "mq-fast-send") and e[2] not in broker_io}
    client = lambda e: e[1] in ("mqbench", "mq-client") or e[2] in client_grpc
    steps = [
        "broker: sync returns -> reply written (flush thread's sendmsg)",
        "-> the client's reading thread has read it",
        "-> first sender woken (reply parsed, slots set)",
        "-> last sender woken",
        "-> next request written (senders queue again, request built)",
        "-> the broker's reading thread has read it",
        "-> append (parse, records, CRC)",
        "-> sync starts",
        "sync",
    ]
    samples = [[] for _ in steps]
    writers = Counter()
    ends = [i for i, e in enumerate(events) if e[1] == "mq-flush" and is_call(e, "exit", SYNC_CALLS)]
    for a, b in zip(ends, ends[1:]):
        cycle = events[a + 1 : b + 1]

        def first(pred, after):
            return next((e for e in cycle if e[0] >= after and pred(e)), None)

        t0 = events[a][0]
        reply = first(lambda e: e[1] == "mq-flush" and e[3] == "sys_exit_sendmsg", t0)
        if not reply:
            continue
        read = first(lambda e: e[2] in client_grpc and is_call(e, "exit", READ_CALLS), reply[0])
        if not read:
            continue
        request = first(lambda e: client(e) and e[3] == "sys_enter_sendmsg", read[0])
        if not request:
            continue
        wakes = [e[0] for e in cycle if read[0] <= e[0] < request[0] and e[3] == "sched_wakeup"
                 and "comm=mqbench " in e[4]]
        if not wakes:
            continue
        got = first(lambda e: e[2] in broker_io and is_call(e, "exit", READ_CALLS), request[0])
        append = got and first(lambda e: is_call(e, "enter", APPEND_CALLS), got[0])
        sync = append and first(lambda e: e[1] == "mq-flush" and is_call(e, "enter", SYNC_CALLS), append[0])
        if not sync:
            continue
        points = [t0, reply[0], read[0], wakes[0], wakes[-1], request[0], got[0], append[0], sync[0],
                  events[b][0]]
        for i, (x, y) in enumerate(zip(points, points[1:])):
            samples[i].append((y - x) * 1e6)
        writers["a sender" if request[1] == "mqbench" else request[1]] += 1
    n = len(samples[0])
    if n == 0:
        sys.exit("durable_cycle.py: no complete cycle in the timeline")
    totals = [sum(s[i] for s in samples) for i in range(n)]
    print(f"{n} cycles; cycle p50 {statistics.median(totals):.0f} us, mean {statistics.mean(totals):.0f} us")
    print(f"{'step':<66} {'p50 us':>7} {'mean us':>8}")
    for name, s in zip(steps, samples):
        print(f"{name:<66} {statistics.median(s):>7.0f} {statistics.mean(s):>8.0f}")
    print("requests written by: " + ", ".join(f"{k} {v}" for k, v in writers.most_common()))


if __name__ == "__main__":
    main(sys.argv[1])
