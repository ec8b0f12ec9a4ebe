"""`connreset report` at scale (issue #16), driven by run_bench.py.

Records a reset storm into a journal (~1 GB in the full run, a few MB with
--quick; CONNRESET_BENCH_STORM_S sets the storm's length, CONNRESET_BENCH_JOURNAL_MIB
a size to keep storming until), then times `report` as text, JSON and HTML (wall
and CPU time, events/s, peak RSS by GNU time) and a many-host case: 8 separate
recordings, one per host (NODE_NAME), each of its own storm, their clocks shifted
so that the 8 overlap as a fleet's journals of the same minutes do, merged. With
--report-before BINARY
the same inputs go through that build too (the implementation before streaming),
and the resets each explains are compared by cause. Standard library only.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import time
import zlib

MAGIC = b"CRJRNL\r\n"


def record_storm(args, tmpdir, seconds, max_size, name="storm-journal", node=None, until_bytes=0):
    """One `record` of loadgen storms: `seconds` of storm, then more of it (5 s at a
    time) while the journal is smaller than until_bytes. node: the host it names."""
    out = os.path.join(tmpdir, name)
    err_path = os.path.join(tmpdir, name + ".err")
    env = dict(os.environ)
    if node:
        env["NODE_NAME"] = node
    with open(err_path, "w") as err:
        rec = subprocess.Popen([args.connreset, "record", "--out", out, "--max-size", str(max_size),
                                "--max-files", "100000"], stdout=subprocess.DEVNULL, stderr=err, env=env)
    t0 = time.monotonic()
    while "journaling to" not in open(err_path).read():
        if rec.poll() is not None or time.monotonic() - t0 > 60:
            raise RuntimeError("record did not start: " + open(err_path).read()[-1000:])
        time.sleep(0.05)

    def size():
        return sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out))

    burst = seconds
    while True:
        subprocess.run([args.loadgen, "storm", "--unread", "64", "--duration", str(burst), "--workers", "2"],
                       capture_output=True, timeout=burst * 4 + 60, check=True)
        if size() >= until_bytes:
            break
        burst = 5.0
    rec.send_signal(signal.SIGINT)
    rec.wait(timeout=120)
    m = re.search(r"(\d+) events journaled", open(err_path).read())
    return out, (int(m.group(1)) if m else None), size()


def header(path):
    with open(path, "rb") as f:
        fixed = f.read(20)
        if fixed[:8] != MAGIC:
            raise RuntimeError(f"{path}: not a journal")
        meta_len = int.from_bytes(fixed[12:16], "little")
        meta = json.loads(f.read(meta_len))
    return fixed, meta, 20 + meta_len


def shift_clock(src, dst, created_wall_ns):
    """A copy of journal file src whose clock is shifted so that it starts at
    created_wall_ns, as a host whose clock is that far off would have written it
    (the header's CRC is redone; the records are the recorded ones)."""
    fixed, meta, body = header(src)
    shift = created_wall_ns - meta["created_wall_ns"]
    meta["created_wall_ns"] = created_wall_ns
    meta["realtime_minus_monotonic_ns"] += shift
    text = json.dumps(meta).encode()
    crc = zlib.crc32(fixed[8:12] + len(text).to_bytes(4, "little") + text)
    with open(src, "rb") as f, open(dst, "wb") as out:
        out.write(MAGIC + fixed[8:12] + len(text).to_bytes(4, "little") + crc.to_bytes(4, "little") + text)
        f.seek(body)
        shutil.copyfileobj(f, out, 1 << 20)
    os.chmod(dst, 0o600)


def fleet(args, tmpdir, hosts, seconds, max_size):
    """`hosts` separate recordings (a storm each, NODE_NAME bench-host-N), then each
    host's files shifted so that all start within a few ms of the first (clock offsets
    of 0..7 ms): journals of the same minutes from a fleet. Returns the per-host
    directories, their events and bytes."""
    dirs, events, size = [], 0, 0
    start = None
    for i in range(hosts):
        node = f"bench-host-{i}"
        rec_dir, n, b = record_storm(args, tmpdir, seconds, max_size, name=f"fleet-{i}", node=node)
        files = sorted(f for f in os.listdir(rec_dir) if f.endswith(".journal"))
        first = header(os.path.join(rec_dir, files[0]))[1]["created_wall_ns"]
        if start is None:
            start = first
        shift = start + i * 1_000_000 - first  # host i's clock: i ms ahead of host 0's
        d = os.path.join(tmpdir, "merged", node)
        os.makedirs(d, mode=0o700)
        for f in files:
            src = os.path.join(rec_dir, f)
            shift_clock(src, os.path.join(d, f), header(src)[1]["created_wall_ns"] + shift)
        shutil.rmtree(rec_dir)
        dirs.append(d)
        events += n or 0
        size += b
    return dirs, events, size


def run_report(binary, inputs, fmt, tmpdir):
    """One report run: wall time, peak RSS (GNU time), resets and resets by cause."""
    out_path = os.path.join(tmpdir, "report.out")
    cmd = [binary, "report"] + inputs
    html = os.path.join(tmpdir, "report.html")
    if fmt == "json":
        cmd.append("--json")
    if fmt == "html":
        cmd += ["--json", "--html", html]  # the page, plus the cheapest stdout
    # stdout into a pipe, copied to the file here: written to a file directly, the page cache's
    # write-back of a GB of text was charged to report's system time
    # Peak RSS through GNU time: a child of this process starts its high-water mark at this
    # process's RSS (fork copies it, vfork+exec records it), so wait4's ru_maxrss here showed the
    # bench driver's own size (215 MiB for a 12 MiB journal). time forks report from its own small
    # image and reads the report's wait4. CPU time: wait4 of time, which includes its reaped child.
    rss_path = os.path.join(tmpdir, "report.rss")
    with open(out_path, "wb") as out:
        t0 = time.monotonic()
        p = subprocess.Popen(["/usr/bin/time", "-o", rss_path, "-f", "%M"] + cmd,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        shutil.copyfileobj(p.stdout, out, 1 << 20)
        p.stdout.close()
        _, status, ru = os.wait4(p.pid, 0)
        elapsed = time.monotonic() - t0
    rc = os.waitstatus_to_exitcode(status)
    with open(rss_path) as f:  # a non-zero exit adds a "Command exited with ..." line first
        peak_kib = int(f.read().split()[-1])
    res = {"time_s": elapsed, "cpu_s": ru.ru_utime + ru.ru_stime, "peak_rss_kib": peak_kib, "rc": rc,
           "output_bytes": os.path.getsize(out_path)}
    if fmt == "html" and os.path.exists(html):
        res["html_bytes"] = os.path.getsize(html)
    by_cause = {}
    with open(out_path, "rb") as f:  # the counts: at the end (streamed) or the start (before streaming)
        head = f.read(1 << 20).decode(errors="replace")
        f.seek(max(0, os.path.getsize(out_path) - (1 << 20)))
        tail = head + "\n" + f.read().decode(errors="replace")
    if fmt in ("json", "html"):
        for line in reversed(tail.splitlines()):
            if '"type":"stats"' in line.replace(" ", ""):
                res["resets"] = json.loads(line).get("resets")
                break
        if res.get("resets") is not None:  # by cause: count the reset lines (streamed, not in the tail)
            with open(out_path, "rb") as f:
                for line in f:
                    m = re.search(rb'"cause":"([a-z_]+)"', line)
                    if m and b'"type":"reset"' in line:
                        by_cause[m.group(1).decode()] = by_cause.get(m.group(1).decode(), 0) + 1
    else:
        m = re.findall(r"connreset report: ([\d,]+) resets explained", tail)
        if m:
            res["resets"] = int(m[-1].replace(",", ""))
        table = re.search(r"RESETS BY CAUSE\n((?:  .*\n)+)", tail)
        if table:
            for row in table.group(1).splitlines():
                parts = row.split()
                if len(parts) == 2:
                    by_cause[parts[1]] = int(parts[0].replace(",", ""))
    res["by_cause"] = by_cause
    os.unlink(out_path)
    if os.path.exists(html):
        os.unlink(html)
    return res


def report_section(args, tmpdir, quick):
    rows = []
    # the storm: 30 s at the default settings (1.1 GB on an idle 2-CPU machine); files of
    # 1/8 of that so 8 of them make the many-host case
    seconds = 0.3 if quick else 30.0
    max_size = (1 << 20) if quick else (128 << 20)
    until_bytes = 0
    if os.environ.get("CONNRESET_BENCH_STORM_S"):
        seconds = float(os.environ["CONNRESET_BENCH_STORM_S"])
    if os.environ.get("CONNRESET_BENCH_JOURNAL_MIB"):
        until_bytes = int(os.environ["CONNRESET_BENCH_JOURNAL_MIB"]) << 20
    if os.environ.get("CONNRESET_BENCH_FILE_MIB"):
        max_size = int(os.environ["CONNRESET_BENCH_FILE_MIB"]) << 20
    try:
        journal, recorded, size = record_storm(args, tmpdir, seconds, max_size, until_bytes=until_bytes)
        # 8 hosts: 8 storms of an eighth of the big one each (a few MB with --quick)
        merged_inputs, merged_events, merged_size = fleet(args, tmpdir, 8, max(seconds / 8, 0.2), max_size)
    except Exception as e:  # noqa: BLE001 - reported as a row
        return {"error": f"recording the storm failed: {e}", "rows": []}
    files = sorted(os.listdir(journal))
    events = recorded or 0
    src = [f for f in files if f.endswith(".journal")]
    cases = [("storm", [journal], events), ("merged-8", merged_inputs, merged_events)]
    impls = [("after", args.connreset)]
    if getattr(args, "report_before", None):
        impls.insert(0, ("before", args.report_before))
    for case, inputs, n in cases:
        case_bytes = size if case == "storm" else merged_size
        for fmt in ("text", "json", "html"):
            for impl, binary in impls:
                if impl == "before" and fmt == "html" and not quick:
                    continue  # the old page holds every reset: minutes and gigabytes, nothing new to learn
                r = run_report(binary, inputs, fmt, tmpdir)
                r.update({"case": case, "format": fmt, "impl": impl, "events": n, "journal_bytes": case_bytes,
                          "events_per_s": n / r["time_s"] if r["time_s"] > 0 else None,
                          "events_per_cpu_s": n / r["cpu_s"] if r["cpu_s"] > 0 else None})
                rows.append(r)
    # the same resets as before, by cause
    for case, _, _ in cases:
        for fmt in ("text", "json"):
            b = [r for r in rows if r["case"] == case and r["format"] == fmt and r["impl"] == "before"]
            a = [r for r in rows if r["case"] == case and r["format"] == fmt and r["impl"] == "after"]
            if b and a:
                a[0]["same_as_before"] = a[0]["by_cause"] == b[0]["by_cause"] and a[0].get("resets") == b[0].get("resets")
    return {"rows": rows, "journal_bytes": size, "journal_files": len(src), "events": events,
            "storm_s": seconds, "merged_bytes": merged_size, "merged_events": merged_events}


def print_report_section(w, rep):
    w("\nreport at scale (issue #16): a recorded reset storm, then `connreset report` "
      "(targets >= 1,000,000 events/s on one core, peak RSS <= 256 MiB; events/s by CPU time, because\n"
      "the wall clock counts whatever else the machine runs)\n")
    if rep.get("error"):
        w(f"  {rep['error']}\n")
        return
    w(f"journal: {rep['journal_bytes'] / 2**20:,.0f} MiB in {rep['journal_files']} file(s), "
      f"{rep['events']:,} events ({rep['storm_s']} s storm, 2 workers); 8 hosts: "
      f"{rep.get('merged_bytes', 0) / 2**20:,.0f} MiB, {rep.get('merged_events', 0):,} events "
      f"(8 separate recordings, clocks 0..7 ms apart)\n")
    for r in rep["rows"]:
        same = ""
        if "same_as_before" in r:
            same = "  same resets as before" if r["same_as_before"] else "  RESETS DIFFER from before"
        page = f"  page {r['html_bytes'] / 2**20:.2f} MiB" if "html_bytes" in r else ""
        ok = ""
        if r["impl"] == "after" and r["events_per_cpu_s"]:
            ok = "  ok" if r["events_per_cpu_s"] >= 1_000_000 and r["peak_rss_kib"] <= 256 * 1024 else "  MISS"
        w(f"report {r['case']} {r['format']} {r['impl']}  {r['time_s']:8.2f} s wall {r['cpu_s']:8.2f} s cpu"
          f"  {r['events_per_cpu_s'] or 0:12,.0f} events/s (per CPU second; {r['events_per_s'] or 0:,.0f} by wall)"
          f"  peak RSS {r['peak_rss_kib'] / 1024:8.1f} MiB  resets {r.get('resets') or 0:,}  rc {r['rc']}"
          f"{page}{same}{ok}\n")
