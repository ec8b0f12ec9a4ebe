// Load generator for scripts/bench.sh: loopback TCP workloads that hit the
// code paths connreset's probes sit on, and a report of what they achieved.
//
//   loadgen pingpong [--conns N] [--msg B] --duration S   recv-heavy request/response
//   loadgen churn --duration S                             connect, one exchange, clean close
//   loadgen storm [--unread B] --duration S                close with unread data: one RST each
//   loadgen hold --conns N [--ports P] [--hold S]          open N connections and keep them open
//   common: [--workers W] (W processes, results summed)  [--port-base P]
//
// Each worker is one thread driving *both* ends of its connections with
// blocking calls. On loopback a send() delivers the segment (and any RST) to
// the peer socket before it returns, so the next call on the other end never
// waits: the loop measures syscall + TCP stack + probe cost with no scheduler
// wake-ups in between (which on small VMs swing ping-pong rates by 2x).
//
// Prints one JSON object: workload, ops, seconds, ops_per_s, cpu_s (user+sys
// of all workers), cpu_us_per_op, errors.
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "loopback.h"

namespace {

using loopback::connect_pair;
using loopback::nodelay;
using loopback::write_all;

struct Options {
  std::string workload;
  int conns = 64;
  int msg = 16;
  int unread = 64;
  double duration_s = 3.0;
  double hold_s = 0;  // hold: 0 = until SIGTERM/SIGINT
  int workers = 1;
  int ports = 4;
  int port_base = 0;  // 0: ephemeral listeners
};

struct Result {
  uint64_t ops = 0;
  uint64_t errors = 0;
  double loop_s = 0;  // time spent in the measured loop (setup excluded)
};

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "loadgen: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

double now_s() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

double cpu_s(int who) {
  rusage ru{};
  getrusage(who, &ru);
  auto tv = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6; };
  return tv(ru.ru_utime) + tv(ru.ru_stime);
}

int listener(uint16_t* port) {
  const int fd = loopback::make_listener(0, port);
  if (fd < 0) die("listener on 127.0.0.1");
  return fd;
}

// ---- workloads (one worker) -------------------------------------------------

Result pingpong(const Options& o) {
  uint16_t port = 0;
  const int lfd = listener(&port);
  std::vector<int> c(static_cast<size_t>(o.conns)), s(static_cast<size_t>(o.conns));
  for (size_t i = 0; i < c.size(); ++i) {
    if (!connect_pair(lfd, port, &c[i], &s[i])) die("connect");
    nodelay(c[i]);
    nodelay(s[i]);
  }
  std::vector<char> buf(static_cast<size_t>(o.msg), 'x');
  const size_t n = buf.size();
  Result r;
  const double start = now_s();
  const double end = start + o.duration_s;
  while (now_s() < end) {
    for (size_t i = 0; i < c.size(); ++i) {
      if (!loopback::exchange(c[i], s[i], buf.data(), n)) die("ping-pong exchange");
    }
    r.ops += c.size();
  }
  r.loop_s = now_s() - start;
  for (size_t i = 0; i < c.size(); ++i) {
    close(c[i]);
    close(s[i]);
  }
  close(lfd);
  return r;
}

Result churn(const Options& o) {
  uint16_t port = 0;
  const int lfd = listener(&port);
  std::vector<char> buf(static_cast<size_t>(o.msg), 'x');
  const size_t n = buf.size();
  Result r;
  const double start = now_s();
  const double end = start + o.duration_s;
  while (now_s() < end) {
    int c = -1, s = -1;
    if (!connect_pair(lfd, port, &c, &s)) {
      ++r.errors;  // e.g. ephemeral ports exhausted by TIME_WAIT: back off a little
      usleep(1000);
      continue;
    }
    char eof = 0;
    const bool ok = loopback::exchange(c, s, buf.data(), n);
    close(c);                          // client closes first (FIN)
    const bool clean = recv(s, &eof, 1, 0) == 0;  // server sees EOF, then closes
    close(s);
    if (ok && clean) {
      ++r.ops;
    } else {
      ++r.errors;
    }
  }
  r.loop_s = now_s() - start;
  close(lfd);
  return r;
}

Result storm(const Options& o) {
  uint16_t port = 0;
  const int lfd = listener(&port);
  std::vector<char> buf(static_cast<size_t>(o.unread), 'x');
  Result r;
  const double start = now_s();
  const double end = start + o.duration_s;
  while (now_s() < end) {
    int c = -1, s = -1;
    if (!connect_pair(lfd, port, &c, &s)) {
      ++r.errors;
      usleep(1000);
      continue;
    }
    // the request arrives; the server closes without reading it: RST (TCP_ABORT_ON_CLOSE)
    const bool sent = write_all(c, buf.data(), buf.size());
    close(s);
    char b = 0;
    const ssize_t got = recv(c, &b, 1, 0);
    const bool reset = got < 0 && errno == ECONNRESET;
    close(c);
    if (sent && reset) {
      ++r.ops;
    } else {
      ++r.errors;
    }
  }
  r.loop_s = now_s() - start;
  close(lfd);
  return r;
}

volatile sig_atomic_t g_stop = 0;
void on_stop(int) { g_stop = 1; }

// N open connections, one exchange each (so the recv/send tables hold them), then held.
Result hold(Options o) {
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  const rlim_t need = static_cast<rlim_t>(o.conns) * 2 + 64;
  if (rl.rlim_cur < need) {
    rl.rlim_cur = need;
    if (rl.rlim_max < need) rl.rlim_max = need;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
      // no CAP_SYS_RESOURCE (containers): stay within the hard limit and say so
      getrlimit(RLIMIT_NOFILE, &rl);
      rl.rlim_cur = rl.rlim_max;
      setrlimit(RLIMIT_NOFILE, &rl);
      o.conns = static_cast<int>((rl.rlim_max - 64) / 2);
      std::fprintf(stderr, "loadgen: RLIMIT_NOFILE hard limit %llu: holding %d connections\n",
                   static_cast<unsigned long long>(rl.rlim_max), o.conns);
    }
  }
  // one listener per ~25,000 connections: the ephemeral range is per destination
  const int nports = std::max(o.ports, o.conns / 25000 + 1);
  std::vector<int> lfd(static_cast<size_t>(nports));
  std::vector<uint16_t> lport(static_cast<size_t>(nports));
  for (size_t i = 0; i < lfd.size(); ++i) lfd[i] = listener(&lport[i]);
  std::vector<int> fds;
  fds.reserve(static_cast<size_t>(o.conns) * 2);
  char b[16] = {};
  Result r;
  for (int i = 0; i < o.conns; ++i) {
    const size_t li = static_cast<size_t>(i % nports);
    int c = -1, s = -1;
    if (!connect_pair(lfd[li], lport[li], &c, &s)) {
      ++r.errors;
      if (r.errors > 1000) break;
      continue;
    }
    if (loopback::exchange(c, s, b, sizeof(b))) {
      ++r.ops;
    } else {
      ++r.errors;
    }
    fds.push_back(c);
    fds.push_back(s);
  }
  std::fprintf(stderr, "loadgen: holding %llu connections\n", static_cast<unsigned long long>(r.ops));
  std::printf("{\"ready\":%llu}\n", static_cast<unsigned long long>(r.ops));
  std::fflush(stdout);
  signal(SIGTERM, on_stop);
  signal(SIGINT, on_stop);
  const double end = o.hold_s > 0 ? now_s() + o.hold_s : 0;
  while (!g_stop && (end == 0 || now_s() < end)) usleep(20000);
  for (int fd : fds) close(fd);
  for (int fd : lfd) close(fd);
  return r;
}

Result run_one(const Options& o) {
  if (o.workload == "pingpong") return pingpong(o);
  if (o.workload == "churn") return churn(o);
  if (o.workload == "storm") return storm(o);
  if (o.workload == "hold") return hold(o);
  std::fprintf(stderr, "loadgen: unknown workload %s\n", o.workload.c_str());
  std::exit(2);
}

void usage() {
  std::fprintf(stderr,
               "usage: loadgen pingpong|churn|storm|hold [--duration S] [--conns N] [--msg B]\n"
               "               [--unread B] [--workers W] [--ports P] [--hold S]\n");
  std::exit(2);
}

Options parse(int argc, char** argv) {
  if (argc < 2) usage();
  Options o;
  o.workload = argv[1];
  for (int i = 2; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (i + 1 >= argc) usage();
    const char* v = argv[++i];
    if (a == "--duration") o.duration_s = std::atof(v);
    else if (a == "--conns") o.conns = std::atoi(v);
    else if (a == "--msg") o.msg = std::atoi(v);
    else if (a == "--unread") o.unread = std::atoi(v);
    else if (a == "--workers") o.workers = std::atoi(v);
    else if (a == "--ports") o.ports = std::atoi(v);
    else if (a == "--hold") o.hold_s = std::atof(v);
    else usage();
  }
  if (o.conns < 1 || o.msg < 1 || o.unread < 1 || o.workers < 1 || o.duration_s <= 0) usage();
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  signal(SIGPIPE, SIG_IGN);
  const double t0 = now_s();
  Result total;
  double rate = 0;  // sum of the workers' own rates (each over its measured loop)
  auto add = [&](const Result& r) {
    total.ops += r.ops;
    total.errors += r.errors;
    total.loop_s = std::max(total.loop_s, r.loop_s);
    if (r.loop_s > 0) rate += static_cast<double>(r.ops) / r.loop_s;
  };
  if (o.workers == 1 || o.workload == "hold") {
    add(run_one(o));
  } else {
    // W processes; each reports its counts through a pipe
    std::vector<int> pipes;
    for (int w = 0; w < o.workers; ++w) {
      int p[2];
      if (pipe(p) != 0) die("pipe");
      const pid_t pid = fork();
      if (pid < 0) die("fork");
      if (pid == 0) {
        close(p[0]);
        const Result r = run_one(o);
        if (write(p[1], &r, sizeof(r)) != static_cast<ssize_t>(sizeof(r))) _exit(1);
        _exit(0);
      }
      close(p[1]);
      pipes.push_back(p[0]);
    }
    for (int fd : pipes) {
      Result r;
      if (read(fd, &r, sizeof(r)) == static_cast<ssize_t>(sizeof(r))) add(r);
      close(fd);
    }
    while (wait(nullptr) > 0) {
    }
  }
  const double secs = now_s() - t0;
  const double cpu = cpu_s(RUSAGE_SELF) + cpu_s(RUSAGE_CHILDREN);
  const double ops = static_cast<double>(total.ops);
  std::printf(
      "{\"workload\":\"%s\",\"workers\":%d,\"ops\":%llu,\"errors\":%llu,\"seconds\":%.4f,"
      "\"loop_seconds\":%.4f,\"ops_per_s\":%.1f,\"cpu_s\":%.4f,\"cpu_us_per_op\":%.3f}\n",
      o.workload.c_str(), o.workers, static_cast<unsigned long long>(total.ops),
      static_cast<unsigned long long>(total.errors), secs, total.loop_s, rate, cpu,
      ops > 0 ? cpu * 1e6 / ops : 0.0);
  return 0;
}
