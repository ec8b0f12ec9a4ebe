// What connreset's recv()/send() programs cost, measured without the noise of
// whole-tracer runs: one process loads connreset's programs (the attach plan
// users get) and do-nothing programs on the same hooks (tests/bench/floor.bpf.c),
// then switches between no programs, the floor and connreset every slice
// (default 200 ms) around a loopback ping-pong, and compares each slice with
// its neighbours. Small VMs drift between speed regimes every few seconds;
// slices that short see the same regime, whole runs seconds apart do not.
//
//   probe_ab [--probes auto|tracepoint|fentry|kprobe] [--rounds N] [--slice-ms MS]
//            [--conns N] [--msg B]                   prints one JSON object
//   probe_ab [--probes ...] --hold      do-nothing programs on every hook of the plan until
//                                       SIGINT (bench.sh's "floor" variant)
//
// One op = one exchange = 2 send() + 2 recv() = 4 probe calls.
//
//   probe_ab --workload storm|churn [...]   the same rotation around whole connections (issue 14):
//            storm: connect, 64 bytes the server never reads, close -> RST, the client's recv()
//            gets ECONNRESET; churn: connect, one exchange, orderly close. The floor is then a
//            do-nothing program on every hook of the plan, and own work is per connection.
//            Kernel side only: a reader thread on CPU 0 drains the ring buffer and drops the records.
#include <bpf/libbpf.h>
#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "floor.skel.h"
#include "loopback.h"
#include "probes/attach_plan.h"
#include "probes/features.h"
#include "probes/tracer.h"

namespace {

constexpr int kCallsPerOp = 4;

struct Options {
  connreset::FamilyChoice probes = connreset::FamilyChoice::Auto;
  int rounds = 40;
  int slice_ms = 200;
  int conns = 64;
  int msg = 16;
  bool hold = false;
  std::string workload = "pingpong";
};

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "probe_ab: %s\n", what.c_str());
  std::exit(1);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--hold") {
      o.hold = true;
      continue;
    }
    if (i + 1 >= argc) fail("missing value for " + std::string(a));
    const char* v = argv[++i];
    if (a == "--probes") {
      auto c = connreset::parse_family_choice(v);
      if (!c) fail("--probes: expected auto, tracepoint, fentry or kprobe");
      o.probes = *c;
    } else if (a == "--rounds") {
      o.rounds = std::atoi(v);
    } else if (a == "--slice-ms") {
      o.slice_ms = std::atoi(v);
    } else if (a == "--conns") {
      o.conns = std::atoi(v);
    } else if (a == "--msg") {
      o.msg = std::atoi(v);
    } else if (a == "--workload") {
      o.workload = v;
      if (o.workload != "pingpong" && o.workload != "storm" && o.workload != "churn") {
        fail("--workload: expected pingpong, storm or churn");
      }
    } else {
      fail("unknown option " + std::string(a));
    }
  }
  if (o.rounds < 3 || o.slice_ms < 10 || o.conns < 1 || o.msg < 1) fail("values out of range");
  return o;
}

double now_s() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

// A loop of whole workload operations, ns per operation over about `seconds`.
class Workload {
 public:
  virtual ~Workload() = default;
  virtual double run(double seconds) = 0;
};

class PingPong : public Workload {
 public:
  PingPong(int conns, int msg) : buf_(static_cast<size_t>(msg), 'x') {
    uint16_t port = 0;
    listener_ = loopback::make_listener(0, &port);
    if (listener_ < 0) fail("listener on 127.0.0.1");
    for (int i = 0; i < conns; ++i) {
      int c = -1, s = -1;
      if (!loopback::connect_pair(listener_, port, &c, &s)) fail("connect on loopback");
      loopback::nodelay(c);
      loopback::nodelay(s);
      pairs_.push_back({c, s});
    }
  }
  ~PingPong() {
    for (auto [c, s] : pairs_) {
      close(c);
      close(s);
    }
    close(listener_);
  }
  // ns per exchange over about `seconds`
  double run(double seconds) override {
    uint64_t ops = 0;
    const double start = now_s(), end = start + seconds;
    while (now_s() < end) {
      for (auto [c, s] : pairs_) {
        if (!loopback::exchange(c, s, buf_.data(), buf_.size())) fail("ping-pong exchange");
      }
      ops += pairs_.size();
    }
    return (now_s() - start) * 1e9 / static_cast<double>(ops);
  }

 private:
  int listener_ = -1;
  std::vector<std::pair<int, int>> pairs_;
  std::vector<char> buf_;
};

// New connections on one listener, both ends in this thread (tests/bench/loadgen.cpp's storm and churn).
class Connections : public Workload {
 public:
  explicit Connections(bool storm) : storm_(storm), buf_(64, 'x') {
    listener_ = loopback::make_listener(0, &port_);
    if (listener_ < 0) fail("listener on 127.0.0.1");
  }
  ~Connections() override { close(listener_); }
  double run(double seconds) override {
    uint64_t ops = 0;
    const double start = now_s(), end = start + seconds;
    while (now_s() < end) {
      int c = -1, s = -1;
      if (!loopback::connect_pair(listener_, port_, &c, &s)) fail("connect on loopback (ports exhausted?)");
      if (storm_ ? !reset(c, s) : !orderly(c, s)) fail(storm_ ? "storm: no ECONNRESET" : "churn: no clean close");
      ++ops;
    }
    return (now_s() - start) * 1e9 / static_cast<double>(ops);
  }

 private:
  // the server closes with the request unread: RST; the client's recv() gets ECONNRESET
  bool reset(int c, int s) {
    const bool sent = loopback::write_all(c, buf_.data(), buf_.size());
    close(s);
    char b = 0;
    const bool rst = recv(c, &b, 1, 0) < 0 && errno == ECONNRESET;
    close(c);
    return sent && rst;
  }
  bool orderly(int c, int s) {
    const bool ok = loopback::exchange(c, s, buf_.data(), 16);
    close(c);
    char eof = 0;
    const bool clean = recv(s, &eof, 1, 0) == 0;
    close(s);
    return ok && clean;
  }

  bool storm_;
  std::vector<char> buf_;
  int listener_ = -1;
  uint16_t port_ = 0;
};

// The do-nothing programs on whichever hooks the plan uses for recv/send results.
class Floor {
 public:
  explicit Floor(const std::vector<std::string>& programs) {
    skel_ = floor_bpf__open();
    if (!skel_) fail("cannot open the floor BPF object");
    bpf_program* p = nullptr;
    bpf_object__for_each_program(p, skel_->obj) {
      const bool keep = std::find(programs.begin(), programs.end(), bpf_program__name(p)) != programs.end();
      bpf_program__set_autoload(p, keep);
    }
    for (const std::string& name : programs) {
      if (!bpf_object__find_program_by_name(skel_->obj, name.c_str())) {
        fail("no " + name + " in tests/bench/floor.bpf.c: every connreset program needs its floor twin");
      }
    }
    if (floor_bpf__load(skel_) != 0) fail("loading the floor programs failed");
    programs_ = programs;
  }
  ~Floor() {
    detach();
    floor_bpf__destroy(skel_);
  }
  void attach() {
    for (const std::string& name : programs_) {
      bpf_link* l = bpf_program__attach(bpf_object__find_program_by_name(skel_->obj, name.c_str()));
      if (!l) fail("attaching floor program " + name + ": " + std::strerror(errno));
      links_.push_back(l);
    }
  }
  void detach() {
    for (bpf_link* l : links_) bpf_link__destroy(l);
    links_.clear();
  }

 private:
  floor_bpf* skel_ = nullptr;
  std::vector<std::string> programs_;
  std::vector<bpf_link*> links_;
};

// the floor program of each connreset program (tests/bench/floor.bpf.c names them so)
std::vector<std::string> floor_programs(const std::vector<std::string_view>& programs) {
  std::vector<std::string> out;
  for (std::string_view p : programs) out.push_back("floor_" + std::string(p));
  return out;
}

volatile std::sig_atomic_t g_stop = 0;

// --hold: the floor on every hook of the plan until SIGINT/SIGTERM (bench.sh's "floor" variant)
int hold(const connreset::AttachPlan& plan) {
  const std::vector<std::string> names = plan.programs();
  const std::vector<std::string_view> programs(names.begin(), names.end());
  Floor floor(floor_programs(programs));
  floor.attach();
  std::signal(SIGINT, [](int) { g_stop = 1; });
  std::signal(SIGTERM, [](int) { g_stop = 1; });
  std::printf("READY %zu floor programs attached\n", programs.size());
  std::fflush(stdout);
  while (!g_stop) pause();
  return 0;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace

int run(const Options& o);

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  try {
    return run(o);
  } catch (const connreset::TracerError& e) {
    fail(e.what());
  }
}

int run(const Options& o) {
  const connreset::AttachPlan plan = connreset::plan_for_running_kernel(o.probes);
  if (!plan.usable()) fail("no usable attach plan: " + plan.problems.front());
  if (o.hold) return hold(plan);

  const bool calls = o.workload == "pingpong";
  nlohmann::json hooks = nlohmann::json::object();
  std::vector<std::string> floor_progs;
  if (!calls) {  // whole connections pass every hook: the floor is a twin of every planned program
    const std::vector<std::string> names = plan.programs();
    floor_progs = floor_programs(std::vector<std::string_view>(names.begin(), names.end()));
    for (const connreset::PlanEntry& e : plan.entries) {
      if (e.chosen && !e.chosen->programs.empty()) hooks[std::string(e.probe->name)] = plan.describe(e);
    }
  }
  for (const connreset::PlanEntry& e : plan.entries) {
    if (!calls) break;
    const std::string_view name = e.probe->name;
    if (!e.chosen || (name != "recv_result" && name != "send_result")) continue;
    hooks[std::string(name)] = plan.describe(e);
    for (std::string& p : floor_programs(e.chosen->programs)) floor_progs.push_back(std::move(p));
  }
  if (floor_progs.empty()) fail("the attach plan traces no recv()/send() results");

  Floor floor(floor_progs);
  connreset::Tracer tracer(plan, connreset::TracerOptions{});
  tracer.detach();
  std::unique_ptr<Workload> workload;
  if (calls) {
    workload = std::make_unique<PingPong>(o.conns, o.msg);
  } else {
    workload = std::make_unique<Connections>(o.workload == "storm");
  }
  Workload& work = *workload;
  // A reader on another CPU, as the real tracer's: records of whole connections would fill the
  // ring buffer within a slice, and past wakeup_bytes every record forces a wake-up (an IPI).
  std::atomic<bool> stop{false};
  std::thread reader([&] {
    const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(0, &set);
    if (cpus > 1) pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
    while (!stop.load(std::memory_order_relaxed)) tracer.poll(100, [](std::span<const std::byte>) {});
  });

  // none, floor, connreset in a rotating order, so no variant always follows another
  enum Variant { kNone, kFloor, kConnreset };
  const double slice = o.slice_ms / 1000.0;
  work.run(slice);  // warm up
  std::vector<double> ns[3], d_floor, d_connreset;
  for (int r = 0; r < o.rounds; ++r) {
    double t[3] = {};
    for (int k = 0; k < 3; ++k) {
      const auto v = static_cast<Variant>((r + k) % 3);
      if (v == kFloor) floor.attach();
      if (v == kConnreset) tracer.attach();
      t[v] = work.run(slice);
      floor.detach();
      tracer.detach();
    }
    for (int v = 0; v < 3; ++v) ns[v].push_back(t[v]);
    d_floor.push_back(t[kFloor] - t[kNone]);
    d_connreset.push_back(t[kConnreset] - t[kNone]);
  }
  stop = true;
  reader.join();
  const double none = median(ns[kNone]);
  const double df = median(d_floor), dc = median(d_connreset);
  const connreset::KernelCounters counters = tracer.counters();
  nlohmann::json out = {
      {"workload", o.workload},
      {"kernel", plan.features->release},
      {"hooks", hooks},
      {"rounds", o.rounds},
      {"slice_ms", o.slice_ms},
      {"conns", o.conns},
      {"msg", o.msg},
      {"calls_per_op", kCallsPerOp},
      {"none_ns_per_op", none},
      {"floor_ns_per_op", median(ns[kFloor])},
      {"connreset_ns_per_op", median(ns[kConnreset])},
      // medians of each round's difference to its own no-program slice
      {"floor_added_ns_per_op", df},
      {"connreset_added_ns_per_op", dc},
      {"floor_ratio", none / (none + df)},
      {"connreset_ratio", none / (none + dc)},
      {"own_work_ns_per_op", dc - df},
      {"kernel_records", counters.events},
      {"kernel_records_lost", counters.lost},
  };
  if (calls) {
    out["connreset_ns_per_call"] = dc / kCallsPerOp;
    out["own_work_ns_per_call"] = (dc - df) / kCallsPerOp;
  }
  std::printf("%s\n", out.dump().c_str());
  return 0;
}
