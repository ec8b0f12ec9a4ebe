#!/usr/bin/env python3
"""The cost of tracing, measured (issue #6). Driven by scripts/bench.sh.

Workloads (tests/bench/loadgen, loopback, pinned to CPU 1) x variants (no tracer,
`connreset trace` to a file, `connreset record`, a bpftrace anchor on the same
tracepoints; tracers pinned to CPU 0), interleaved and repeated; medians and
ratios to the no-tracer baseline. Then: per-program kernel cost from bpf_stats
(separate runs, because bpf_stats itself costs two clock reads per run), lost
events at the highest reset rate (2 workers, unpinned), user-space pipeline
throughput (Google Benchmark) and memory with many open connections.

Standard library only. Prints a table, or one JSON document with --json.
"""
import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from report_bench import print_report_section, report_section
from service_bench import SERVICE_WORKLOADS, Nginx
import service_bench

WORKLOADS = [
    # name, loadgen args, unit
    ("recv-heavy", ["pingpong", "--conns", "64", "--msg", "16"], "msgs/s"),
    ("churn", ["churn"], "conns/s"),
    ("reset-storm", ["storm", "--unread", "64"], "resets/s"),
]
# floor: do-nothing programs on every hook connreset attaches (probe_ab --hold): the most any
# tracer on these hooks can keep, what connreset's own work is measured against
VARIANTS = ["none", "floor", "trace", "record", "bpftrace"]
TARGETS = {"recv-heavy": 0.97, "churn": 0.95,  # min throughput ratio with tracing
           "nginx-keepalive": 0.99, "nginx-close": 0.98}
RECV_PROG_TARGET_NS = 100.0
RSS_TARGET_KIB = 64 * 1024
PIPELINE_TARGET_EPS = 1_000_000

# tracepoints every variant attaches to, in tests/bench/bpftrace/anchor.bt's order (bpftrace loads its
# programs in script order and names them after the probe, truncated to 15 characters)
TRACEPOINTS = ["sock_recv_length", "sock_send_length", "inet_sock_set_state", "tcp_send_reset",
               "tcp_receive_reset"]

CLK_TCK = os.sysconf("SC_CLK_TCK")
WORKLOAD_CPU = "1"
TRACER_CPU = "0"


def log(msg):
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


# ---- /proc helpers ---------------------------------------------------------------

def proc_cpu_s(pid):
    """user+sys CPU seconds of a whole process (all threads)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return None


def proc_status_kib(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def bpf_fds(pid):
    """BPF programs and maps a process holds: {prog_id: {...}}, map memlock bytes, link count."""
    progs, map_memlock, links = {}, 0, 0
    try:
        fds = os.listdir(f"/proc/{pid}/fdinfo")
    except OSError:
        return progs, map_memlock, links
    for fd in fds:
        try:
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                info = dict(l.split(":", 1) for l in f.read().splitlines() if ":" in l)
        except OSError:
            continue
        info = {k.strip(): v.strip() for k, v in info.items()}
        if "link_id" in info:
            links += 1
            if "prog_id" in info and "tp_name" in info:
                progs.setdefault(int(info["prog_id"]), {})["tp"] = info["tp_name"]
        elif "prog_id" in info:
            p = progs.setdefault(int(info["prog_id"]), {})
            p["run_time_ns"] = int(info.get("run_time_ns", 0))
            p["run_cnt"] = int(info.get("run_cnt", 0))
        elif "map_id" in info:
            map_memlock += int(info.get("memlock", 0))
    return progs, map_memlock, links


def prog_names(ids):
    try:
        out = subprocess.run(["bpftool", "prog", "show", "--json"], capture_output=True, text=True,
                             timeout=20).stdout
        return {p["id"]: p.get("name", "?") for p in json.loads(out) if p.get("id") in ids}
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return {}


def set_bpf_stats(on):
    try:
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write("1" if on else "0")
        return True
    except OSError:
        return False


def get_bpf_stats():
    try:
        with open("/proc/sys/kernel/bpf_stats_enabled") as f:
            return f.read().strip() == "1"
    except OSError:
        return False


# ---- tracers -------------------------------------------------------------------------

class Tracer:
    """One tracer process, pinned, output to a file; stopped with SIGINT."""
    journals = 0

    def __init__(self, variant, args, tmpdir, cpu=TRACER_CPU):
        # "trace@before": the same variant with another build (--before BINARY, storm_bench.py)
        self.variant, _, self.build = variant.partition("@")
        self.out_path = os.path.join(tmpdir, f"{variant}.out")
        self.err_path = os.path.join(tmpdir, f"{variant}.err")
        self.extra = {}
        cmd = self.command(self.variant, args, tmpdir)
        if self.build:
            cmd[0] = args.builds[self.build]
        if cpu is not None:
            cmd = ["taskset", "-c", cpu] + cmd
        self.out = open(self.out_path, "w")
        self.err = open(self.err_path, "w")
        env = dict(os.environ, BPFTRACE_MAP_KEYS_MAX="65536")
        self.proc = subprocess.Popen(cmd, stdout=self.out, stderr=self.err, env=env,
                                     cwd=tmpdir)
        self.pid = self.proc.pid
        self.wait_attached(args)

    @staticmethod
    def command(variant, args, tmpdir):
        if variant == "trace":
            return [args.connreset, "trace", "--json"] + args.trace_args
        if variant == "text":  # trace's human output (--text): the other sink a storm writes
            return [args.connreset, "trace", "-o", "text"] + args.trace_args
        if variant == "record":
            Tracer.journals += 1
            journal = os.path.join(tmpdir, f"journal-{Tracer.journals}")
            Tracer.last_journal = journal
            return [args.connreset, "record", "--out", journal] + args.trace_args
        if variant == "bpftrace":
            return ["bpftrace", "-B", "line", args.anchor]
        if variant == "floor":
            return [args.probe_ab, "--hold"]
        raise ValueError(variant)

    def ready(self):
        if self.variant.startswith(("trace", "text")):
            return os.path.getsize(self.out_path) > 0  # the meta line: written after attach
        if self.variant in ("bpftrace", "floor"):
            with open(self.out_path) as f:
                return "READY" in f.read(4096)  # printed once every probe is attached
        if self.variant.startswith("record"):
            with open(self.err_path) as f:
                return "journaling to" in f.read(4096)  # printed once attached
        _, _, links = bpf_fds(self.pid)
        return links >= 4

    def wait_attached(self, args, timeout=60):
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.variant} exited early (rc {self.proc.returncode}): "
                                   + open(self.err_path).read()[-2000:])
            if self.ready():
                time.sleep(0.2)
                return
            time.sleep(0.05)
        raise RuntimeError(f"{self.variant} did not attach within {timeout}s")

    def snapshot(self):
        progs, memlock, _ = bpf_fds(self.pid)
        return {"cpu_s": proc_cpu_s(self.pid), "progs": progs, "map_memlock": memlock,
                "hwm_kib": proc_status_kib(self.pid, "VmHWM"),
                "rss_kib": proc_status_kib(self.pid, "VmRSS")}

    def stop(self, timeout=30):
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.out.close()
        self.err.close()
        with open(self.out_path, errors="replace") as f:
            out = f.read()
        with open(self.err_path, errors="replace") as f:
            err = f.read()
        if self.variant.startswith("record"):
            shutil.rmtree(Tracer.last_journal, ignore_errors=True)
        return parse_tracer_output(self.variant.partition("@")[0], out, err)


def parse_tracer_output(variant, out, err):
    """events seen by the tracer's user space and events lost, from its own report."""
    res = {"events": None, "lost": None, "lines": out.count("\n")}
    if variant == "floor":
        return res  # no records: nothing to count
    if variant == "record":
        # record journals events and says so on stderr; a rise in lost events is a warning there
        # ("N kernel events lost (...; T in total)"), so no warning means none lost
        m = re.search(r"stopped; (\d+) events journaled", err)
        res["events"] = int(m.group(1)) if m else None
        totals = [int(x.replace(",", "")) for x in re.findall(r"([\d,]+) in total", err)]
        res["lost"] = max(totals) if totals else (0 if m else None)
        return res
    if variant in ("trace", "text"):
        for line in reversed(out.splitlines()):
            if '"type":"stats"' in line.replace(" ", ""):
                try:
                    st = json.loads(line)
                    res["events"] = st.get("events")
                    res["lost"] = st.get("lost")
                    res["sockets_tracked"] = st.get("sockets_tracked")
                except ValueError:
                    pass
                break
        if res["events"] is None:  # text output's last line: "..., N events, M lost"
            m = re.search(r"([\d,]+) events, ([\d,]+) lost", out)
            if m:
                res["events"] = int(m.group(1).replace(",", ""))
                res["lost"] = int(m.group(2).replace(",", ""))
        if res["lost"] is None:  # text output: "lost N" / "N ... lost"
            m = re.search(r"lost\D{0,20}(\d[\d,]*)", out + err)
            if m:
                res["lost"] = int(m.group(1).replace(",", ""))
    else:
        res["events"] = sum(1 for l in out.splitlines() if l.startswith(("state", "rst_")))
        lost = [int(x) for x in re.findall(r"Lost (\d+) events", out + err)]
        res["lost"] = sum(lost)
    return res


# ---- one measurement -----------------------------------------------------------------

def run_loadgen(args, wl_args, duration, cpu=WORKLOAD_CPU, workers=1):
    cmd = [args.loadgen] + wl_args + ["--duration", str(duration), "--workers", str(workers)]
    if cpu is not None:
        cmd = ["taskset", "-c", cpu] + cmd
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=duration * 4 + 60)
    if p.returncode != 0:
        raise RuntimeError(f"loadgen failed: {p.stderr}")
    return json.loads(p.stdout.strip().splitlines()[-1])


class SyscallCounter:
    """perf stat counting one process's system calls (raw_syscalls:sys_enter): a counter
    increment per call, no ptrace stop as with strace -c."""

    def __init__(self, pid, tmpdir):
        self.path = os.path.join(tmpdir, f"perf-stat-{pid}.csv")
        self.proc = subprocess.Popen(["perf", "stat", "-x", ",", "-o", self.path, "-e",
                                      "raw_syscalls:sys_enter", "-e", "context-switches", "-p",
                                      str(pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.3)  # attached before the workload starts

    def stop(self):
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        counts = {}
        try:
            with open(self.path) as f:
                for line in f:
                    parts = line.strip().split(",")
                    if len(parts) > 2 and parts[0].isdigit():
                        counts[parts[2]] = int(parts[0])
        except OSError:
            pass
        return counts.get("raw_syscalls:sys_enter"), counts.get("context-switches")


def measure(args, tmpdir, workload, variant, duration, stats=False, wl_cpu=WORKLOAD_CPU,
            tracer_cpu=TRACER_CPU, workers=1, trace_extra=None, count_syscalls=False):
    name, wl_args, _ = workload
    tracer = None
    counter = None
    if variant != "none":
        saved = args.trace_args
        if trace_extra:
            args.trace_args = saved + trace_extra
        try:
            tracer = Tracer(variant, args, tmpdir, cpu=tracer_cpu)
        finally:
            args.trace_args = saved
        if count_syscalls and shutil.which("perf"):
            counter = SyscallCounter(tracer.pid, tmpdir)
        before = tracer.snapshot()
    if name.startswith("nginx"):
        lg = args.nginx.run_wrk(wl_args, duration)
    else:
        lg = run_loadgen(args, wl_args, duration, cpu=wl_cpu, workers=workers)
    row = {"workload": name, "variant": variant, "ops_per_s": lg["ops_per_s"],
           "ops": lg["ops"], "errors": lg["errors"], "cpu_us_per_op": lg["cpu_us_per_op"]}
    if tracer:
        time.sleep(0.4)  # let the tracer drain its ring buffer (it polls every 100 ms)
        after = tracer.snapshot()
        if counter:
            row["tracer_syscalls"], row["tracer_ctx_switches"] = counter.stop()
        res = tracer.stop()
        row["tracer_cpu_s"] = (after["cpu_s"] - before["cpu_s"]
                               if after["cpu_s"] is not None and before["cpu_s"] is not None else None)
        row["tracer_hwm_kib"] = after["hwm_kib"]
        row["map_memlock_kib"] = after["map_memlock"] // 1024
        row.update({k: v for k, v in res.items() if k != "lines"})
        if row.get("events") is not None and lg["ops"]:
            row["events_per_op"] = row["events"] / lg["ops"]
        if stats:
            progs = {}
            names = prog_names(set(after["progs"]))
            ids = sorted(after["progs"])
            for pid_, p in after["progs"].items():
                b = before["progs"].get(pid_, {})
                runs = p.get("run_cnt", 0) - b.get("run_cnt", 0)
                ns = p.get("run_time_ns", 0) - b.get("run_time_ns", 0)
                label = p.get("tp") or names.get(pid_)
                if label is None and variant == "bpftrace" and len(ids) == len(TRACEPOINTS):
                    label = TRACEPOINTS[ids.index(pid_)]
                label = next((t for t in TRACEPOINTS if label and t.startswith(label)),
                             label or f"prog{pid_}")
                progs[label] = {"runs": runs, "ns_per_run": ns / runs if runs else None,
                                "ns": ns}
            row["progs"] = progs
            # every program's time per workload operation (per storm connection, per request)
            row["kernel_ns_per_op"] = sum(p["ns"] for p in progs.values()) / lg["ops"] if lg["ops"] else None
    return row


# ---- orchestration ---------------------------------------------------------------------

def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def throughput_section(args, tmpdir, variants, reps, duration, workloads=WORKLOADS):
    runs = []
    for rep in range(reps):
        for wl in workloads:
            order = variants[rep % len(variants):] + variants[:rep % len(variants)]
            for v in order:
                log(f"rep {rep + 1}/{reps} {wl[0]:<12} {v}")
                runs.append(measure(args, tmpdir, wl, v, duration))
    summary = []
    for name, _, unit in workloads:
        base = median([r["ops_per_s"] for r in runs if r["workload"] == name and r["variant"] == "none"])
        for v in VARIANTS:
            rs = [r for r in runs if r["workload"] == name and r["variant"] == v]
            s = {"workload": name, "variant": v, "unit": unit, "reps": len(rs)}
            if v not in variants:
                s["na"] = args.unavailable.get(v, "not run")
                summary.append(s)
                continue
            ops = median([r["ops_per_s"] for r in rs])
            s["ops_per_s"] = ops
            s["ops_per_s_all"] = [round(r["ops_per_s"]) for r in rs]
            s["ratio"] = ops / base if base and ops else None
            # paired ratios (each run against the baseline of the same repetition) show the spread
            s["cpu_us_per_op"] = median([r["cpu_us_per_op"] for r in rs])
            base_cpu = median([r["cpu_us_per_op"] for r in runs
                               if r["workload"] == name and r["variant"] == "none"])
            # the same ratio from CPU time per operation: insensitive to the workload being
            # preempted by other processes on a shared machine
            s["cpu_ratio"] = base_cpu / s["cpu_us_per_op"] if base_cpu and s["cpu_us_per_op"] else None
            s["errors"] = sum(r["errors"] for r in rs)
            if v != "none":
                cpu = median([r.get("tracer_cpu_s") for r in rs])
                ev = median([r.get("events") for r in rs])
                s["tracer_cpu_ms"] = cpu * 1000 if cpu is not None else None
                s["events"] = ev
                per_k = [r["tracer_cpu_s"] * 1e9 / r["events"] for r in rs
                         if r.get("events") and r.get("tracer_cpu_s") is not None]
                s["tracer_cpu_us_per_1k_events"] = median(per_k)
                # per operation too (per reset, connection, request): fewer records per operation
                # raise the cost per record of whatever is done once per operation
                s["tracer_cpu_us_per_op"] = median([r["tracer_cpu_s"] * 1e6 / r["ops"] for r in rs
                                                    if r.get("ops") and r.get("tracer_cpu_s") is not None])
                s["peak_rss_kib"] = max((r.get("tracer_hwm_kib") or 0) for r in rs) or None
                lost = [r.get("lost") for r in rs if r.get("lost") is not None]
                s["lost"] = sum(lost) if lost else None
                s["map_memlock_kib"] = median([r.get("map_memlock_kib") for r in rs])
                s["events_per_op"] = median([r.get("events_per_op") for r in rs])
            t = TARGETS.get(name)
            if t and v in ("trace", "record") and s["ratio"] is not None:
                s["target"] = t
                s["target_met"] = s["ratio"] >= t
            summary.append(s)
    return runs, summary


def service_section(args, tmpdir, variants, reps, duration):
    """nginx + wrk on loopback (tests/bench/service_bench.py), both pinned to the workload CPU, the
    variants interleaved as in throughput_section; nginx is stopped however the section ends."""
    why = service_bench.available()
    if why:
        return [], [{"workload": n, "variant": v, "na": why} for n, _, _ in SERVICE_WORKLOADS
                    for v in VARIANTS]
    args.nginx = Nginx(tmpdir, WORKLOAD_CPU)
    try:
        log(f"nginx on 127.0.0.1:{args.nginx.port} (private config in {args.nginx.dir})")
        return throughput_section(args, tmpdir, variants, reps, duration, SERVICE_WORKLOADS)
    finally:
        args.nginx.stop()
        args.nginx = None


def kernel_cost_section(args, tmpdir, variants, duration, workloads=WORKLOADS):
    rows = []
    was = get_bpf_stats()
    if not set_bpf_stats(True):
        return [{"error": "cannot enable kernel.bpf_stats_enabled"}]
    try:
        for wl in workloads:
            for v in variants:
                if v == "none":
                    continue
                log(f"bpf_stats {wl[0]:<12} {v}")
                r = measure(args, tmpdir, wl, v, duration, stats=True)
                for prog, p in sorted(r.get("progs", {}).items()):
                    rows.append({"variant": v, "workload": wl[0], "program": prog,
                                 "runs": p["runs"], "ns_per_run": p["ns_per_run"],
                                 "runs_per_op": p["runs"] / r["ops"] if r["ops"] else None})
                rows.append({"variant": v, "workload": wl[0], "program": "(all, per op)",
                             "ns_per_op": r.get("kernel_ns_per_op"), "ops": r["ops"],
                             "events_per_op": r.get("events_per_op")})
    finally:
        set_bpf_stats(was)
    return rows


def probe_ab_section(args, quick):
    """connreset's recv/send programs vs do-nothing programs vs none, switched every slice in one
    process (tests/bench/probe_ab.cpp): the recv-heavy cost without whole-run drift."""
    if not args.probe_ab or not os.path.exists(args.probe_ab):
        return {"error": "probe_ab not built"}
    def run(workload, rounds):
        log(f"probe A/B ({workload}): none / floor / connreset switched every slice")
        cmd = ["taskset", "-c", WORKLOAD_CPU, args.probe_ab, "--workload", workload]
        cmd += ["--rounds", "6", "--slice-ms", "100"] if quick else ["--rounds", str(rounds), "--slice-ms", "200"]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        try:
            return json.loads(p.stdout)
        except ValueError:
            return {"error": f"probe_ab --workload {workload} failed: " + p.stderr[-500:]}
    doc = run("pingpong", 60)
    if "error" in doc:
        return doc
    doc["target"] = TARGETS["recv-heavy"]
    doc["target_met"] = doc["connreset_ratio"] >= doc["target"]
    # whole connections (issue 14): the kernel's cost per reset and per orderly connection, without
    # the drift of whole runs; the floor is then a do-nothing twin of every planned program
    doc["connections"] = [run(w, 30) for w in ("storm", "churn")]
    return doc


def loss_section(args, tmpdir, variants, duration):
    """Reset storm at the highest rate this machine sustains: 2 workers, nothing pinned."""
    rows = []
    storm = WORKLOADS[2]
    for v in variants:
        log(f"max-rate reset storm {v}")
        r = measure(args, tmpdir, storm, v, duration, wl_cpu=None, tracer_cpu=None, workers=2)
        rows.append({"variant": v, "resets_per_s": r["ops_per_s"], "events": r.get("events"),
                     "lost": r.get("lost"), "tracer_cpu_ms": (r.get("tracer_cpu_s") or 0) * 1000
                     if v != "none" else None})
    for v in ("trace", "record"):
        if v not in variants:
            continue
        # the same storm with a deliberately tiny ring buffer: loss must be reported, never silent
        log(f"max-rate reset storm, {v} --ringbuf-kib 8 (loss reporting check)")
        r = measure(args, tmpdir, storm, v, duration, wl_cpu=None, tracer_cpu=None,
                    workers=2, trace_extra=["--ringbuf-kib", "8"])
        rows.append({"variant": f"{v} --ringbuf-kib 8", "resets_per_s": r["ops_per_s"],
                     "events": r.get("events"), "lost": r.get("lost"),
                     "tracer_cpu_ms": (r.get("tracer_cpu_s") or 0) * 1000})
    return rows


def pipeline_section(args, min_time):
    if not args.pipeline_bench or not os.path.exists(args.pipeline_bench):
        return [{"error": "pipeline_bench not built (libbenchmark-dev missing?)"}]
    log("pipeline_bench (Google Benchmark, one core)")
    cmd = ["taskset", "-c", WORKLOAD_CPU, args.pipeline_bench, "--benchmark_format=json",
           f"--benchmark_min_time={min_time}"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    try:
        doc = json.loads(p.stdout)
    except ValueError:
        return [{"error": "pipeline_bench failed: " + p.stderr[-500:]}]
    rows = []
    for b in doc.get("benchmarks", []):
        eps = b.get("items_per_second")
        rows.append({"benchmark": b["name"], "events_per_s": eps,
                     "target_met": eps is not None and eps >= PIPELINE_TARGET_EPS
                     if b["name"].startswith("BM_Pipeline") else None})
    return rows


def memory_section(args, tmpdir, real_conns):
    rows = []
    for sided, what in (("--one-sided", "100,000 sockets: server side only, peers remote"),
                        (None, "200,000 sockets: both ends on this host, as on loopback")):
        log(f"conn_table_rss: 100,000 synthetic open connections ({what})")
        cmd = [args.conn_table_rss, "--conns", "100000"] + ([sided] if sided else [])
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        try:
            m = json.loads(p.stdout)
            rows.append({"what": f"user space, synthetic: Pipeline fed 100,000 open connections "
                                 f"({what})",
                         "connections": m["connections"], "sockets_tracked": m["sockets_tracked"],
                         "peak_rss_kib": m["peak_rss_kib"],
                         "bytes_per_socket": m["bytes_per_socket"],
                         "target_met": m["peak_rss_kib"] < RSS_TARGET_KIB})
        except (ValueError, KeyError):
            rows.append({"what": "conn_table_rss", "error": p.stderr[-500:]})

    log(f"real connections: loadgen hold {real_conns} while `connreset trace` runs")
    tracer = Tracer("trace", args, tmpdir)
    hold = subprocess.Popen(["taskset", "-c", WORKLOAD_CPU, args.loadgen, "hold", "--conns",
                             str(real_conns)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    ready = hold.stdout.readline()
    time.sleep(1.5)  # drain
    snap = tracer.snapshot()
    hold.send_signal(signal.SIGTERM)
    hold.communicate(timeout=300)
    time.sleep(0.3)
    res = tracer.stop()
    try:
        held = json.loads(ready).get("ready")
    except ValueError:
        held = None
    rows.append({"what": f"connreset trace, real: {held} open loopback connections "
                         f"({2 * (held or 0)} sockets)",
                 "connections": held, "sockets_tracked": res.get("sockets_tracked"),
                 "peak_rss_kib": snap["hwm_kib"], "map_memlock_kib": snap["map_memlock"] // 1024,
                 "lost": res.get("lost"),
                 "target_met": snap["hwm_kib"] is not None and snap["hwm_kib"] < RSS_TARGET_KIB})
    return rows


# ---- output ---------------------------------------------------------------------------

def fmt(x, spec="{:,.0f}", none="-"):
    return none if x is None else spec.format(x)


def print_rows(w, summary):
    for s in summary:
        if "na" in s:
            w(f"{s['workload']:<15} {s['variant']:<9} n/a ({s['na']})\n")
            continue
        tgt = ""
        if "target" in s:
            tgt = f">={s['target']:.2f} " + ("ok" if s["target_met"] else "MISS")
        rss = fmt(s.get("peak_rss_kib"), "{:,.0f}") + "K" if s.get("peak_rss_kib") else "-"
        w(f"{s['workload']:<15} {s['variant']:<9} {fmt(s['ops_per_s']):>10} "
          f"{fmt(s['ratio'], '{:.3f}'):>7} {tgt:>12} {fmt(s['cpu_us_per_op'], '{:.2f}'):>8} "
          f"{fmt(s.get('cpu_ratio'), '{:.3f}'):>9} "
          f"{fmt(s.get('tracer_cpu_ms'), '{:.0f}'):>9} "
          f"{fmt(s.get('tracer_cpu_us_per_1k_events'), '{:,.0f}'):>9} "
          f"{fmt(s.get('events')):>9} {fmt(s.get('lost')):>6} {rss:>9}\n")


def print_focused(doc):
    """--focus: the chosen workloads' rows, records and kernel time per operation."""
    w = sys.stdout.write
    w(f"connreset bench --focus {doc['focus']}  kernel {doc['kernel']}  reps {doc['reps']} x "
      f"{doc['duration_s']}s  load before {doc['load_before']}\n")
    for name, path in doc.get("builds", {}).items():
        w(f"variant@{name}: {path}\n")
    w(f"{'workload':<15} {'variant':<15} {'ops/s':>10} {'ratio':>7} {'cpu ratio':>9} "
      f"{'ev/op':>6} {'tr cpu ms':>9} {'us/1k ev':>9} {'tr us/op':>8} {'lost':>6} {'peak RSS':>9}\n")
    for s in doc["throughput"] + doc["service"]:
        if "na" in s or s.get("reps") == 0:
            continue
        rss = fmt(s.get("peak_rss_kib"), "{:,.0f}") + "K" if s.get("peak_rss_kib") else "-"
        w(f"{s['workload']:<15} {s['variant']:<15} {fmt(s['ops_per_s']):>10} "
          f"{fmt(s['ratio'], '{:.3f}'):>7} {fmt(s.get('cpu_ratio'), '{:.3f}'):>9} "
          f"{fmt(s.get('events_per_op'), '{:.2f}'):>6} {fmt(s.get('tracer_cpu_ms'), '{:.0f}'):>9} "
          f"{fmt(s.get('tracer_cpu_us_per_1k_events'), '{:,.0f}'):>9} "
          f"{fmt(s.get('tracer_cpu_us_per_op'), '{:.2f}'):>8} {fmt(s.get('lost')):>6} {rss:>9}\n")
    w("\nKernel cost (bpf_stats, separate runs): ns/run x runs per op; all programs per op\n")
    for r in doc["kernel_cost"]:
        if "error" in r:
            w(f"  {r['error']}\n")
        elif "ns_per_op" in r:
            w(f"{r['workload']:<15} {r['variant']:<15} {'all programs':<22} "
              f"{fmt(r['ns_per_op'], '{:,.0f}')} ns per op, {fmt(r.get('events_per_op'), '{:.2f}')} records per op\n")
        else:
            w(f"{r['workload']:<15} {r['variant']:<15} {r['program']:<22} "
              f"{fmt(r['ns_per_run'], '{:,.0f}')} ns x {fmt(r.get('runs_per_op'), '{:.2f}')} per op\n")


def print_table(doc):
    w = sys.stdout.write
    w(f"connreset bench  kernel {doc['kernel']}  cpus {doc['cpus']}  mode {doc['mode']}  "
      f"reps {doc['reps']} x {doc['duration_s']}s  (workload on CPU {WORKLOAD_CPU}, tracers on CPU "
      f"{TRACER_CPU})\n\n")
    w("Throughput (median of reps; ratio = median ops/s / median of 'none'; cpu ratio = the same\n"
      "from the workload's CPU time per op; tr cpu ms = tracer CPU during the run; us/1k ev = tracer\n"
      "CPU per 1,000 events it received)\n")
    hdr = (f"{'workload':<15} {'variant':<9} {'ops/s':>10} {'ratio':>7} {'target':>12} "
           f"{'wl us/op':>8} {'cpu ratio':>9} {'tr cpu ms':>9} {'us/1k ev':>9} {'events':>9} {'lost':>6} "
           f"{'peak RSS':>9}\n")
    w(hdr)
    print_rows(w, doc["throughput"])
    w("\nA real service: nginx serving a 256-byte file on 127.0.0.1 under wrk (1 thread, 32 connections;\n"
      "nginx-close: 'Connection: close', one connection per request); nginx and wrk on CPU "
      f"{WORKLOAD_CPU}; ops/s = requests/s\n")
    w(hdr)
    print_rows(w, doc["service"])
    ab = doc["probe_ab"]
    w("\nrecv()/send() programs switched every slice in one process (tests/bench/probe_ab; ping-pong, "
      "1 op = 4 calls;\nadded = median over rounds of the slice minus its own no-program slice; "
      "floor = do-nothing programs on the same hooks)\n")
    if "error" in ab:
        w(f"  {ab['error']}\n")
    else:
        w(f"hooks: {', '.join(ab['hooks'].values())}; {ab['rounds']} rounds x {ab['slice_ms']} ms\n")
        w(f"ab none      {ab['none_ns_per_op']:8,.0f} ns/op\n")
        w(f"ab floor     {ab['floor_ns_per_op']:8,.0f} ns/op  added {ab['floor_added_ns_per_op']:5,.0f} "
          f"ns/op  ratio {ab['floor_ratio']:.3f}\n")
        w(f"ab connreset {ab['connreset_ns_per_op']:8,.0f} ns/op  added "
          f"{ab['connreset_added_ns_per_op']:5,.0f} ns/op  ratio {ab['connreset_ratio']:.3f}  "
          f">={ab['target']:.2f} {'ok' if ab['target_met'] else 'MISS'}  "
          f"({ab['connreset_ns_per_call']:.0f} ns/call, {ab['own_work_ns_per_call']:.0f} of it "
          f"connreset's own work)\n")
        for c in ab.get("connections", []):
            if "error" in c:
                w(f"  {c['error']}\n")
                continue
            wl = c["workload"]
            w(f"ab {wl} none {c['none_ns_per_op']:8,.0f} ns/connection\n")
            w(f"ab {wl} floor {c['floor_ns_per_op']:8,.0f} ns/connection  ratio {c['floor_ratio']:.3f}\n")
            w(f"ab {wl} connreset {c['connreset_ns_per_op']:8,.0f} ns/connection  ratio "
              f"{c['connreset_ratio']:.3f}  (own work {c['own_work_ns_per_op']:,.0f} ns per connection, "
              f"{c['kernel_records_lost']} of {c['kernel_records']} records lost)\n")
    w("\nKernel cost per program (bpf_stats, separate runs; ns/run and runs)\n")
    w(f"{'variant':<9} {'program':<22} " + " ".join(f"{n:>22}" for n, _, _ in WORKLOADS) + "\n")
    progs = {}
    for r in doc["kernel_cost"]:
        if "error" in r:
            w(f"  {r['error']}\n")
            continue
        if "ns_per_op" in r:
            continue  # the per-operation totals: print_focused shows them
        progs.setdefault((r["variant"], r["program"]), {})[r["workload"]] = r
    for (v, prog), per in progs.items():
        cells = []
        for n, _, _ in WORKLOADS:
            r = per.get(n)
            cells.append("-" if not r or not r["runs"] else
                         f"{r['ns_per_run']:.0f} ns x {r['runs']:,}")
        w(f"{v:<9} {prog:<22} " + " ".join(f"{c:>22}" for c in cells) + "\n")
    rc = doc.get("recv_prog_ns")
    if rc is not None:
        w(f"recv-path program (sock_recv_length, recv-heavy): {rc:.0f} ns/run, target < "
          f"{RECV_PROG_TARGET_NS:.0f}: {'ok' if rc < RECV_PROG_TARGET_NS else 'MISS'}\n")
    w("\nEvents lost, reset storm at the highest rate (2 workers, unpinned)\n")
    for r in doc["loss"]:
        w(f"{r['variant']:<22} {fmt(r['resets_per_s']):>8} resets/s  events {fmt(r.get('events')):>9}"
          f"  lost {fmt(r.get('lost')):>7}\n")
    w("\nUser space: decode -> correlate -> explain, one core (target >= 1,000,000 events/s)\n")
    for r in doc["pipeline"]:
        if "error" in r:
            w(f"  {r['error']}\n")
            continue
        t = "" if r["target_met"] is None else ("ok" if r["target_met"] else "MISS")
        w(f"{r['benchmark']:<32} {fmt(r['events_per_s']):>12} events/s  {t}\n")
    w("\nMemory (target: RSS < 64 MiB with 100,000 open connections)\n")
    for r in doc["memory"]:
        if "error" in r:
            w(f"  {r['what']}: {r['error']}\n")
            continue
        extra = ""
        if r.get("map_memlock_kib") is not None:
            extra = f", kernel maps {r['map_memlock_kib']:,} KiB"
        w(f"{r['what']}: peak RSS {r['peak_rss_kib'] / 1024:.1f} MiB, sockets tracked "
          f"{fmt(r.get('sockets_tracked'))}{extra}  {'ok' if r['target_met'] else 'MISS'}\n")
    print_report_section(w, doc["report"])


# ---- main -------------------------------------------------------------------------------

def pick_workloads(focus):
    names = [n.strip() for n in focus.split(",") if n.strip()]
    aliases = {"storm": "reset-storm", "recv": "recv-heavy", "nginx": "nginx-"}
    chosen = lambda wl: any(wl[0] == aliases.get(n, n) or (n == "nginx" and wl[0].startswith("nginx-"))
                            for n in names)
    loadgen = [wl for wl in WORKLOADS if chosen(wl)]
    service = [wl for wl in SERVICE_WORKLOADS if chosen(wl)]
    if not loadgen and not service:
        raise SystemExit(f"--focus {focus}: no such workload (storm, churn, recv, nginx, nginx-close, "
                         "nginx-keepalive)")
    return loadgen, service


def focused(args, tmpdir, variants, reps, duration, quick):
    loadgen, service = pick_workloads(args.focus)
    load = os.getloadavg()[0]
    t0 = time.monotonic()
    runs, summary = throughput_section(args, tmpdir, variants, reps, duration, loadgen) if loadgen else ([], [])
    svc_runs, svc = [], []
    if service:
        why = service_bench.available()
        if why:
            svc = [{"workload": n, "variant": v, "na": why} for n, _, _ in service for v in variants]
        else:
            args.nginx = Nginx(tmpdir, WORKLOAD_CPU)
            try:
                svc_runs, svc = throughput_section(args, tmpdir, variants, reps, max(duration, 1.0), service)
            finally:
                args.nginx.stop()
                args.nginx = None
    kcost = kernel_cost_section(args, tmpdir, [v for v in variants if v not in ("bpftrace", "floor")],
                                max(duration, 1.0), loadgen) if loadgen else []
    doc = {"schema": "connreset-bench/1", "focus": args.focus, "kernel": os.uname().release,
           "reps": reps, "duration_s": duration, "load_before": round(load, 2),
           "load_after": round(os.getloadavg()[0], 2), "builds": args.builds,
           "elapsed_s": round(time.monotonic() - t0, 1), "variants": variants,
           "throughput": summary, "service": svc, "kernel_cost": kcost, "runs": runs + svc_runs}
    if args.json:
        json.dump(doc, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        print_focused(doc)
        sys.stdout.write(f"\n(elapsed {doc['elapsed_s']:.0f}s, load {doc['load_before']} -> {doc['load_after']})\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--connreset", required=True)
    ap.add_argument("--loadgen", required=True)
    ap.add_argument("--pipeline-bench")
    ap.add_argument("--probe-ab")
    ap.add_argument("--conn-table-rss", required=True)
    ap.add_argument("--anchor", required=True)
    ap.add_argument("--reps", type=int)
    ap.add_argument("--duration", type=float)
    ap.add_argument("--report-before", help="a connreset binary to compare report with (issue #16)")
    ap.add_argument("--report-only", action="store_true", help="only the report-at-scale section")
    ap.add_argument("--only", choices=["storm"],
                    help="storm: only the reset storm, pinned and at the highest rate (issue #14)")
    ap.add_argument("--before", help="with --only storm or --focus: also trace and record of this connreset build")
    ap.add_argument("--focus", help="comma list of workloads (storm, churn, recv, nginx, nginx-close, "
                    "nginx-keepalive): only their pinned throughput rows and kernel cost per operation "
                    "(bpf_stats), with --before's build interleaved, for a short quiet window")
    ap.add_argument("--no-bpftrace", action="store_true", help="leave the bpftrace anchor out")
    ap.add_argument("--text", action="store_true",
                    help="also `trace -o text` (variant text), the human output, beside trace --json")
    args = ap.parse_args()
    args.builds = {"before": args.before} if args.before else {}

    quick = args.quick
    reps = args.reps or (1 if quick else 5)
    duration = args.duration or (0.5 if quick else 3.0)
    args.trace_args = []
    args.unavailable = {}

    help_text = subprocess.run([args.connreset, "--help"], capture_output=True, text=True).stdout
    variants = ["none", "trace"]
    if args.probe_ab and os.path.exists(args.probe_ab):
        variants.insert(1, "floor")
    else:
        args.unavailable["floor"] = "probe_ab not built"
    if args.text:
        variants.append("text")
        VARIANTS.insert(VARIANTS.index("trace") + 1, "text")
    if re.search(r"^\s+record\s", help_text, re.M):
        variants.append("record")
    else:
        args.unavailable["record"] = "record not available"
    if args.no_bpftrace:
        args.unavailable["bpftrace"] = "--no-bpftrace"
    elif subprocess.run(["which", "bpftrace"], capture_output=True).returncode == 0:
        variants.append("bpftrace")
    else:
        args.unavailable["bpftrace"] = "bpftrace not installed"
    if args.before and args.focus:
        # --focus takes several: --before A,B gives trace@before, trace@before2, ...
        args.builds = {}
        for i, path in enumerate(args.before.split(",")):
            name = "before" if i == 0 else f"before{i + 1}"
            args.builds[name] = os.path.abspath(path)
            for v in ("trace", "text", "record"):
                if v in variants:
                    variants.append(f"{v}@{name}")
                    VARIANTS.append(f"{v}@{name}")

    with tempfile.TemporaryDirectory(prefix="connreset-bench-") as tmpdir:
        os.chmod(tmpdir, 0o755)
        t0 = time.monotonic()
        if args.only == "storm":
            from storm_bench import storm_section, print_storm_section
            tracers = [v for v in ("trace", "text", "record") if v in variants]
            storm_variants = (["none"] + [v for v in variants if v == "floor"]
                              + [f"{v}@before" for v in tracers if args.before] + tracers)
            doc = storm_section(args, tmpdir, measure, WORKLOADS[2], storm_variants,
                                args.reps or (1 if quick else 4), args.duration or (1.0 if quick else 3.0),
                                1 if quick else 2, 1.0 if quick else 4.0, log)
            doc.update({"schema": "connreset-bench/1", "kernel": os.uname().release,
                        "cpus": os.cpu_count(), "mode": "storm", "elapsed_s": round(time.monotonic() - t0, 1)})
            if args.json:
                json.dump(doc, sys.stdout, indent=1)
                sys.stdout.write("\n")
            else:
                print_storm_section(sys.stdout.write, doc)
                sys.stdout.write(f"\n(elapsed {doc['elapsed_s']:.0f}s)\n")
            return
        if args.focus:
            focused(args, tmpdir, variants, reps, duration, quick)
            return
        if args.report_only:
            rep = report_section(args, tmpdir, quick)
            if args.json:
                json.dump({"schema": "connreset-bench/1", "mode": "quick" if quick else "full", "report": rep},
                          sys.stdout, indent=1)
            else:
                print_report_section(sys.stdout.write, rep)
            return
        runs, summary = throughput_section(args, tmpdir, variants, reps, duration)
        svc_runs, service = service_section(args, tmpdir, variants, reps, max(duration, 1.0))
        ab = probe_ab_section(args, quick)
        tracers = [v for v in variants if v != "floor"]
        kcost = kernel_cost_section(args, tmpdir, tracers, max(duration, 1.0) if not quick else duration)
        loss = loss_section(args, tmpdir, tracers, 1.0 if quick else 5.0)
        pipe = pipeline_section(args, 0.05 if quick else 0.5)
        mem = memory_section(args, tmpdir, 2000 if quick else 100_000)
        rep = report_section(args, tmpdir, quick)
        elapsed = time.monotonic() - t0

    recv = [r for r in kcost if r.get("variant") == "trace" and r.get("workload") == "recv-heavy"
            and r.get("program") in ("sock_recv_length", "tp_recv_length")]
    doc = {
        "schema": "connreset-bench/1",
        "kernel": os.uname().release,
        "cpus": os.cpu_count(),
        "mode": "quick" if quick else "full",
        "reps": reps,
        "duration_s": duration,
        "elapsed_s": round(elapsed, 1),
        "variants": variants,
        "unavailable": args.unavailable,
        "throughput": summary,
        "service": service,
        "probe_ab": ab,
        "kernel_cost": kcost,
        "recv_prog_ns": recv[0]["ns_per_run"] if recv else None,
        "loss": loss,
        "pipeline": pipe,
        "memory": mem,
        "report": rep,
        "runs": runs + svc_runs,
    }
    if args.json:
        json.dump(doc, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        print_table(doc)
        sys.stdout.write(f"\n(elapsed {elapsed:.0f}s)\n")


if __name__ == "__main__":
    main()
