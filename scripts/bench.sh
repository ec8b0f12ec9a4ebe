#!/usr/bin/env bash
# The cost of tracing, measured (issue #6): loopback workloads with no tracer,
# `connreset trace`, `connreset record` and a bpftrace anchor, interleaved;
# kernel cost per program (bpf_stats), events lost, user-space pipeline
# throughput, memory with many open connections. See README "Performance".
#   sudo scripts/bench.sh [--quick] [--json]
# --quick: one short repetition of everything (< 2 minutes; scripts/test.sh runs it).
# Builds into $CONNRESET_BUILD (default build/) like the other scripts.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

args=()
for a in "$@"; do
  case "$a" in
    --quick|--json) args+=("$a") ;;
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $a (expected --quick, --json)" ;;
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

exec python3 "$CONNRESET_ROOT/bench/run_bench.py" "${args[@]}" \
  --connreset "$B/connreset" --loadgen "$B/bench/loadgen" \
  --pipeline-bench "$B/bench/pipeline_bench" --probe-ab "$B/bench/probe_ab" --conn-table-rss "$B/bench/conn_table_rss" \
  --anchor "$CONNRESET_ROOT/bench/bpftrace/anchor.bt"
