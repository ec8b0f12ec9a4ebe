#!/usr/bin/env python3
"""Checks that `scripts/bench.sh` printed every row of its table (scripts/test.sh runs
`scripts/bench.sh --quick` and this; the numbers are not judged: benchmarks are not tests).
   check_rows.py TABLE_FILE"""
import re
import sys

WORKLOADS = ["recv-heavy", "churn", "reset-storm"]
VARIANTS = ["none", "floor", "trace", "record", "bpftrace"]  # unavailable ones print "n/a (why)"
TRACE_PROGRAMS = ["sock_recv_length", "sock_send_length", "inet_sock_set_state",
                  "tcp_send_reset", "tcp_receive_reset"]


def main():
    text = open(sys.argv[1]).read()
    lines = [" ".join(l.split()) for l in text.splitlines()]
    missing = []

    def need(prefix, pattern=None):
        hit = [l for l in lines if l.startswith(prefix)]
        if not hit or (pattern and not any(re.search(pattern, l) for l in hit)):
            missing.append(prefix + (f" (matching {pattern})" if pattern else ""))

    for w in WORKLOADS:
        for v in VARIANTS:
            need(f"{w} {v} ", r"\d|n/a \(")
    for w in ["nginx-keepalive", "nginx-close"]:  # the real service (tests/bench/service_bench.py)
        for v in VARIANTS:
            need(f"{w} {v} ", r"\d|n/a \(")
    for p in TRACE_PROGRAMS:
        need(f"trace {p} ", r"ns x [\d,]+")
    need("recv-path program", r"\d+ ns/run")
    need("ab none ", r"ns/op")
    need("ab floor ", r"added .* ratio \d")
    need("ab connreset ", r"added .* ratio \d.* ns/call")
    for wl in ["storm", "churn"]:
        need(f"ab {wl} floor ", r"ratio \d")
        need(f"ab {wl} connreset ", r"ratio \d.*own work")
    for v in ["none ", "trace ", "trace --ringbuf-kib 8 "] + (["record --ringbuf-kib 8 "] if any(l.startswith("record none") is False and l.startswith("recv-heavy record ") and "n/a" not in l for l in lines) else []):
        need(v, r"resets/s .*lost")
    need("BM_Decode ", r"events/s")
    need("BM_Pipeline_Churn ", r"events/s")
    need("BM_Pipeline_ResetStorm/", r"events/s")
    need("user space, synthetic: Pipeline fed 100,000 open connections (100,000 sockets",
         r"peak RSS [\d.]+ MiB")
    need("user space, synthetic: Pipeline fed 100,000 open connections (200,000 sockets",
         r"peak RSS [\d.]+ MiB")
    need("connreset trace, real:", r"peak RSS [\d.]+ MiB")
    for case in ["storm", "merged-8"]:
        for fmt in ["text", "json", "html"]:
            need(f"report {case} {fmt} after ", r"events/s .*peak RSS [\d.,]+ MiB .*resets [\d,]+ rc 0")
    need("report storm html after ", r"page [\d.]+ MiB")
    if missing:
        print("bench output is missing rows:\n  " + "\n  ".join(missing), file=sys.stderr)
        sys.exit(1)
    print(f"bench output: all rows present ({len(lines)} lines)")


if __name__ == "__main__":
    main()
