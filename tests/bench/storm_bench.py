"""Reset storms only (issue #14): `scripts/bench.sh --only storm [--before BINARY]`.

The storm of run_bench.py's table, alone, so that one exclusive quiet window (a few minutes)
holds a before/after comparison: pinned (workload on CPU 1, tracer on CPU 0) and at the
highest rate (2 workers, nothing pinned). With --before, `trace@before` and `record@before`
run the other build, interleaved with this one's in every repetition. Per tracer: CPU per
kernel event, system calls and context switches per 1,000 events (perf stat on the tracer's
pid: a counter per call, no ptrace stop), peak RSS, events lost. Standard library only.
"""
import statistics


def _median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def _per_1k(rs, key):
    vals = [r[key] * 1000 / r["events"] for r in rs if r.get(key) is not None and r.get("events")]
    return _median(vals)


def _summary(runs, variants, mode):
    base = [r for r in runs if r["variant"] == "none"]
    base_ops = _median([r["ops_per_s"] for r in base])
    base_cpu = _median([r["cpu_us_per_op"] for r in base])
    out = []
    for v in variants:
        rs = [r for r in runs if r["variant"] == v]
        ops = _median([r["ops_per_s"] for r in rs])
        cpu_op = _median([r["cpu_us_per_op"] for r in rs])
        s = {"mode": mode, "variant": v, "reps": len(rs), "resets_per_s": ops,
             "resets_per_s_all": [round(r["ops_per_s"]) for r in rs],
             "ratio": ops / base_ops if ops and base_ops else None,
             "cpu_ratio": base_cpu / cpu_op if base_cpu and cpu_op else None,
             "workload_cpu_us_per_reset": cpu_op}
        if v != "none":
            lost = [r.get("lost") for r in rs if r.get("lost") is not None]
            s.update({
                "events": _median([r.get("events") for r in rs]),
                "tracer_cpu_ns_per_event": _median(
                    [r["tracer_cpu_s"] * 1e9 / r["events"] for r in rs
                     if r.get("events") and r.get("tracer_cpu_s") is not None]),
                # per reset as well: the quiet path cut records per reset 9 -> 3, so the fixed cost
                # of explaining and writing each reset now weighs on fewer events
                "tracer_cpu_us_per_reset": _median(
                    [r["tracer_cpu_s"] * 1e6 / r["ops"] for r in rs
                     if r.get("ops") and r.get("tracer_cpu_s") is not None]),
                "syscalls_per_1k_events": _per_1k(rs, "tracer_syscalls"),
                "ctx_switches_per_1k_events": _per_1k(rs, "tracer_ctx_switches"),
                "peak_rss_kib": max((r.get("tracer_hwm_kib") or 0) for r in rs) or None,
                "lost": sum(lost) if lost else None,
            })
        out.append(s)
    return out


def storm_section(args, tmpdir, measure, storm, variants, reps, duration, max_rate_reps,
                  max_rate_duration, log):
    """measure: run_bench.measure; storm: its reset-storm workload."""
    pinned, unpinned = [], []
    for rep in range(reps):
        order = variants[rep % len(variants):] + variants[:rep % len(variants)]
        for v in order:
            log(f"storm pinned rep {rep + 1}/{reps} {v}")
            pinned.append(measure(args, tmpdir, storm, v, duration, count_syscalls=v != "none"))
    for rep in range(max_rate_reps):
        order = variants[rep % len(variants):] + variants[:rep % len(variants)]
        for v in order:
            log(f"storm max rate rep {rep + 1}/{max_rate_reps} {v}")
            unpinned.append(measure(args, tmpdir, storm, v, max_rate_duration, wl_cpu=None,
                                    tracer_cpu=None, workers=2, count_syscalls=v != "none"))
    return {"reps": reps, "duration_s": duration, "max_rate_reps": max_rate_reps,
            "max_rate_duration_s": max_rate_duration, "variants": variants,
            "rows": _summary(pinned, variants, "pinned") + _summary(unpinned, variants, "max rate"),
            "runs": pinned + unpinned}


def _fmt(x, spec="{:,.0f}"):
    return "-" if x is None else spec.format(x)


def print_storm_section(w, doc):
    w(f"Reset storm (issue #14): pinned {doc['reps']} x {doc['duration_s']} s (workload CPU 1, tracer "
      f"CPU 0), max rate {doc['max_rate_reps']} x {doc['max_rate_duration_s']} s (2 workers, "
      "unpinned); medians.\nns/ev = tracer CPU per kernel event, us/rst = per reset; sys/1k, cs/1k = the tracer's "
      "system calls and context switches per 1,000 events (perf stat)\n")
    w(f"{'mode':<9} {'variant':<15} {'resets/s':>9} {'ratio':>6} {'cpu ratio':>9} {'ns/ev':>6} {'us/rst':>6} "
      f"{'sys/1k':>7} {'cs/1k':>6} {'events':>9} {'lost':>5} {'peak RSS':>9}\n")
    for s in doc["rows"]:
        rss = f"{s['peak_rss_kib'] / 1024:.1f}M" if s.get("peak_rss_kib") else "-"
        w(f"{s['mode']:<9} {s['variant']:<15} {_fmt(s['resets_per_s']):>9} "
          f"{_fmt(s['ratio'], '{:.3f}'):>6} {_fmt(s['cpu_ratio'], '{:.3f}'):>9} "
          f"{_fmt(s.get('tracer_cpu_ns_per_event')):>6} {_fmt(s.get('tracer_cpu_us_per_reset'), '{:.2f}'):>6} "
          f"{_fmt(s.get('syscalls_per_1k_events'), '{:.1f}'):>7} "
          f"{_fmt(s.get('ctx_switches_per_1k_events'), '{:.1f}'):>6} {_fmt(s.get('events')):>9} "
          f"{_fmt(s.get('lost')):>5} {rss:>9}\n")
