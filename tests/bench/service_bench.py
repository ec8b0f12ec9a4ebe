"""A real service under load (issue #14): Debian's nginx serving a small file on 127.0.0.1, driven
by Debian's wrk, with keep-alive and with one connection per request. Used by run_bench.py, which
interleaves no tracer / trace / record / bpftrace around these runs exactly as around loadgen's.

nginx runs from a private prefix in the bench's temp dir (its own config, pid file, logs and temp
paths; nothing under /etc/nginx or /var/log/nginx is read or written), on an unprivileged port
picked free at start, and is stopped (then killed if it lingers) when the section ends."""
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import time

# name, wrk arguments, unit. wrk: one thread, 32 connections; "Connection: close" makes nginx close
# after each response, so every request is a new connection (connect, exchange, close, TIME_WAIT).
SERVICE_WORKLOADS = [
    ("nginx-keepalive", ["-c", "32"], "req/s"),
    ("nginx-close", ["-c", "32", "-H", "Connection: close"], "req/s"),
]
SMALL_FILE = 256  # bytes served per request

CONFIG = """daemon off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  keepalive_requests 1000000000;
  server {{ listen 127.0.0.1:{port}; root {d}/www; }}
}}
"""


def available():
    missing = [b for b in ("nginx", "wrk") if shutil.which(b) is None]
    return None if not missing else " and ".join(missing) + " not installed"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def cpu_s_tree(pid):
    """user+sys CPU seconds of a process and its direct children (nginx master + workers)."""
    tck = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for p in [pid] + children(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tck
        except (OSError, IndexError, ValueError):
            pass
    return total


class Nginx:
    """nginx with a private config on 127.0.0.1:<free port>, pinned to the workload's CPU."""

    def __init__(self, tmpdir, cpu):
        self.dir = os.path.join(tmpdir, "nginx")
        os.makedirs(os.path.join(self.dir, "www"), exist_ok=True)
        os.chmod(self.dir, 0o755)  # the worker runs as nobody and must read www/
        os.chmod(os.path.join(self.dir, "www"), 0o755)
        small = os.path.join(self.dir, "www", "small.html")
        with open(small, "w") as f:
            f.write("x" * SMALL_FILE)
        os.chmod(small, 0o644)
        self.port = free_port()
        conf = os.path.join(self.dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(CONFIG.format(d=self.dir, port=self.port))
        cmd = ["nginx", "-p", self.dir, "-e", os.path.join(self.dir, "error.log"), "-c", conf]
        if cpu is not None:
            cmd = ["taskset", "-c", cpu] + cmd
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.url = f"http://127.0.0.1:{self.port}/small.html"
        self.cpu = cpu
        t0 = time.monotonic()
        while time.monotonic() - t0 < 20:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nginx exited (rc {self.proc.returncode}): "
                                   + self.proc.stderr.read().decode(errors="replace")[-1000:])
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("nginx did not listen within 20 s")

    def run_wrk(self, wrk_args, duration):
        """requests/s, requests, errors and workload CPU (wrk + nginx) per request."""
        cmd = ["wrk", "-t", "1", "-d", f"{max(1, round(duration))}s"] + wrk_args + [self.url]
        if self.cpu is not None:
            cmd = ["taskset", "-c", self.cpu] + cmd
        ng0 = cpu_s_tree(self.proc.pid)
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=duration * 4 + 60)
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        ng1 = cpu_s_tree(self.proc.pid)
        if p.returncode != 0:
            raise RuntimeError(f"wrk failed: {p.stderr[-500:]}")
        m = re.search(r"([\d]+) requests in", p.stdout)
        rps = re.search(r"Requests/sec:\s+([\d.]+)", p.stdout)
        if not m or not rps:
            raise RuntimeError(f"cannot parse wrk output: {p.stdout[-500:]}")
        errors = sum(int(x) for x in re.findall(r"(?:connect|read|write|timeout) (\d+)", p.stdout))
        non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", p.stdout)
        errors += int(non2xx.group(1)) if non2xx else 0
        n = int(m.group(1))
        wrk_cpu = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
        return {"ops_per_s": float(rps.group(1)), "ops": n, "errors": errors,
                "cpu_us_per_op": (wrk_cpu + ng1 - ng0) * 1e6 / n if n else None}

    def stop(self):
        if self.proc.poll() is None:
            workers = children(self.proc.pid)
            self.proc.send_signal(signal.SIGQUIT)  # graceful: workers finish, master exits
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                for w in workers + [self.proc.pid]:  # by pid: only the processes we started
                    try:
                        os.kill(w, signal.SIGKILL)
                    except OSError:
                        pass
                self.proc.wait()
