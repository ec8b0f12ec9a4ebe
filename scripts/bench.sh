#!/usr/bin/env bash
# The cost of tracing, measured (issue #6): loopback workloads with no tracer,
# `connreset trace`, `connreset record` and a bpftrace anchor, interleaved;
# kernel cost per program (bpf_stats), events lost, user-space pipeline
# throughput, memory with many open connections; a real service (nginx from Debian on
# 127.0.0.1 under wrk, keep-alive and a connection per request). See README "Performance".
#   sudo scripts/bench.sh [--quick] [--json] [--report-only] [--report-before BINARY]
#                         [--only storm [--before BINARY]] [--focus LIST [--before BINARY[,BINARY...]]]
#                         [--reps N] [--duration S] [--no-bpftrace] [--text]
# --quick: one short repetition of everything (< 2 minutes; scripts/test.sh runs it).
# --report-only: only `report` at scale (a storm recorded to ~1 GB, then report text/JSON/HTML
# and 8 hosts merged); --report-before BINARY: the same runs with another build, resets compared.
# --only storm: only the reset storm, pinned and at the highest rate, with the tracer's CPU,
# system calls and context switches per event (< 5 minutes: one exclusive quiet window);
# --before BINARY: trace and record of that build too, interleaved with this one's.
# --focus storm,nginx-close (storm, churn, recv, nginx, nginx-close, nginx-keepalive): only those
# pinned throughput rows, records per operation and the kernel's time per operation (bpf_stats).
# --text: `trace -o text` (the human output) as a variant of its own beside trace --json.
# Builds into $CONNRESET_BUILD (default build/) like the other scripts.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

args=()
while [ $# -gt 0 ]; do
  a=$1; shift
  case "$a" in
    --quick|--json|--report-only|--no-bpftrace|--text) args+=("$a") ;;
    --report-before|--before)
      [ $# -gt 0 ] || die "$a needs a connreset binary"
      # --before A,B (with --focus) names several builds: resolve each, keep the commas
      resolved=""
      IFS=, read -ra builds <<<"$1"
      for b in "${builds[@]}"; do resolved+="${resolved:+,}$(realpath "$b")"; done
      args+=("$a" "$resolved"); shift ;;
    --only) [ "${1:-}" = storm ] || die "--only: expected storm"; args+=("$a" "$1"); shift ;;
    --focus|--reps|--duration) [ $# -gt 0 ] || die "$a needs a value"; args+=("$a" "$1"); shift ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $a (expected --quick, --json, --report-only, --report-before BINARY, --only storm, --focus LIST, --before BINARY, --reps N, --duration S, --no-bpftrace, --text)" ;;
  esac
done

require_root
[ "${CONNRESET_BENCH_SKIP_SETUP:-0}" = 1 ] || { install_deps; build; }
ensure_mounts
[ "$(nproc)" -ge 2 ] || log "warning: fewer than 2 CPUs: workload and tracer share one (pinning is moot)"

B=$CONNRESET_BUILD
for f in "$B/connreset" "$B/bench/loadgen" "$B/bench/conn_table_rss" "$B/bench/probe_ab"; do
  [ -x "$f" ] || die "$f missing: build with -DCONNRESET_BENCH=ON (the default)"
done

exec python3 "$CONNRESET_ROOT/tests/bench/run_bench.py" "${args[@]}" \
  --connreset "$B/connreset" --loadgen "$B/bench/loadgen" \
  --pipeline-bench "$B/bench/pipeline_bench" --probe-ab "$B/bench/probe_ab" --conn-table-rss "$B/bench/conn_table_rss" \
  --anchor "$CONNRESET_ROOT/tests/bench/bpftrace/anchor.bt"
