// connreset run [options] -- CMD [ARGS...]: CI's way to use connreset.
//
// Order matters: attach the probes (root), fork CMD held before exec, put its
// pid in the kernel's process-tree map, then let it exec (as the invoking
// user under sudo). Every process CMD's tree creates from then on is followed
// by the kernel (bpf/process_tree.bpf.h); resets and findings that involve
// none of them are left out. When CMD has exited and the tree's last process
// is gone (or --grace ran out), the settle period lets the last RSTs (sent
// while the last sockets were closed at exit) arrive and pair up, the ring
// buffer is drained, and the summary, JUnit file and annotations are written.
//
// Unlike trace/record, run keeps its capabilities and installs no seccomp
// filter: it must read and update the process-tree map for the whole run
// (on kernels before 6.5 every bpf() command needs CAP_BPF/CAP_SYS_ADMIN
// while unprivileged BPF is disabled), fork, change CMD's user and signal it.
// CMD itself gets none of that: it runs as the invoking user.
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>

#include "commands/commands.h"
#include "common/clock.h"
#include "common/escape.h"
#include "common/host.h"
#include "common/names.h"
#include "journal/recorder.h"
#include "run/child.h"
#include "run/ci_output.h"
#include "run/process_tree.h"
#include "sinks/json_format.h"
#include "sinks/json_sink.h"
#include "sinks/output.h"
#include "sinks/text_sink.h"

namespace connreset {
namespace {

int fail(const std::string& msg, int code = kRunExitInternal) {
  std::fprintf(stderr, "connreset run: %s\n", msg.c_str());
  return code;
}

std::string joined(const std::vector<std::string>& argv) {
  std::string s;
  for (const std::string& a : argv) {
    if (!s.empty()) s += ' ';
    s += a;
  }
  return s;
}

uint64_t realtime_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// Passes explanations on to the sinks that print as they happen (stderr),
// and collects them for the end.
struct RunSinks {
  std::unique_ptr<Sink> stream;
  RunCollector collector;
  std::unique_ptr<journal::Writer> writer;
  std::unique_ptr<journal::Recorder> recorder;
};

std::string counts_by(const std::map<std::string, size_t>& m) {
  std::string s;
  for (const auto& [k, n] : m) s += (s.empty() ? "" : ", ") + k + ": " + std::to_string(n);
  return s;
}

// chown DIR and the files in it (not recursive: the journal has no subdirectories)
void give_to(const std::string& dir, const RunAs& as) {
  if (chown(dir.c_str(), as.uid, as.gid) != 0) return;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (chown(entry.path().c_str(), as.uid, as.gid) != 0) return;
  }
}

}  // namespace

int run_run(RunArgs a) {
  if (a.command.empty()) return fail("no command given: connreset run [options] -- CMD [ARGS...]");
  // trace/record's --user (the user they become after attaching) has no place
  // here: run keeps its privileges (see the top); its --user is CMD's
  a.trace.user = "root";
  if (std::string err = resolve_trace_args(a.trace); !err.empty()) return fail(err);
  FailOn fail_on;
  if (!a.fail_on.empty()) {
    std::string err;
    auto parsed = parse_fail_on(a.fail_on, &err);
    if (!parsed) return fail(err);
    fail_on = *parsed;
  }
  RunAs as;
  if (std::string err = resolve_run_as(a.user, &as); !err.empty()) return fail(err);
  if (!a.junit.empty()) {
    // find out now, not after a long test suite, that the report cannot be written
    std::ofstream probe(a.junit, std::ios::app);
    if (!probe) return fail("--junit " + a.junit + ": " + std::strerror(errno));
  }

  a.trace.live.command = "run";
  a.trace.live.tracer.track_tree = true;
  a.trace.live.tracer.tree_max = a.max_processes;
  auto tree = std::make_shared<ProcessTree>();
  a.trace.live.filter.process_tree = [tree](uint32_t tgid) { return tree->contains(tgid); };

  RunSinks sinks;
  if (a.trace.format == OutputFormat::Text) {
    sinks.stream = std::make_unique<TextSink>(stderr, /*verbose_stats=*/false);
  } else {
    sinks.stream = make_output_sink(a.trace.format, stderr);
  }
  std::vector<Sink*> sink_list{sinks.stream.get(), &sinks.collector};
  if (!a.record.empty()) {
    try {
      sinks.writer = std::make_unique<journal::Writer>(journal::WriterOptions{.dir = a.record});
    } catch (const journal::WriterError& e) {
      return fail(e.what());
    }
    // the journal holds every event of the host during the run (the other
    // ends of the tree's connections included); `report --pid` narrows it
    sinks.recorder = std::make_unique<journal::Recorder>(*sinks.writer, std::nullopt);
    a.trace.live.observer = sinks.recorder.get();
    sink_list.push_back(sinks.recorder.get());
  }

  // before CMD exists, a signal only stops connreset
  forward_signals_to(0);
  signal(SIGPIPE, SIG_IGN);
  std::unique_ptr<LiveSession> session;
  try {
    session = std::make_unique<LiveSession>(a.trace.live, sink_list);
  } catch (const TracerError& e) {
    return fail(std::string(e.what()) + "\n(run `connreset doctor` for details)");
  } catch (const journal::WriterError& e) {
    return fail(e.what());
  }
  tree->attach(session->tracer().tree_map_fd());
  if (signals_received()) return fail("interrupted before the command started");

  Child child;
  if (std::string err = child.fork_held(a.command, as); !err.empty()) return fail(err);
  const uint64_t start_ns = monotonic_now_ns();
  const uint64_t wall_start_ns = realtime_ns();
  if (int err = tree->seed(static_cast<uint32_t>(child.pid()), start_ns); err != 0) {
    child.abandon();
    return fail(std::string("cannot follow the command's processes: ") + std::strerror(-err));
  }
  forward_signals_to(child.pid());
  int exec_code = 0;
  if (std::string err = child.release(&exec_code); !err.empty()) {
    session->finish();
    std::fprintf(stderr, "connreset run: %s: %s\n", escape_for_terminal(a.command[0]).c_str(), err.c_str());
    return exec_code;
  }
  if (as.change) std::fprintf(stderr, "connreset run: running %s as %s\n", escape_for_terminal(a.command[0]).c_str(), as.label.c_str());

  std::optional<int> cmd_exit;
  uint64_t cmd_exit_ns = 0;
  unsigned signals_at_exit = 0;
  uint64_t settle_until = 0;
  bool said_waiting = false;
  std::vector<uint32_t> left_running;
  const uint64_t settle_ns = static_cast<uint64_t>(a.trace.settle_ms) * 1'000'000 + 200'000'000;
  auto stop = [&]() -> bool {
    const uint64_t now = monotonic_now_ns();
    if (settle_until) return now >= settle_until;
    if (!cmd_exit) {
      cmd_exit = child.poll_exit();
      if (!cmd_exit) return false;
      cmd_exit_ns = now;
      signals_at_exit = signals_received();
    }
    tree->refresh();
    const std::vector<uint32_t> running = tree->running();
    bool done = running.empty();
    if (!done && a.grace_s && now - cmd_exit_ns >= static_cast<uint64_t>(*a.grace_s * 1e9)) done = true;
    // after CMD's exit, Ctrl-C / SIGTERM stops the wait for the rest of the tree
    if (!done && signals_received() > signals_at_exit) done = true;
    if (!done && !said_waiting) {
      said_waiting = true;
      std::string pids;
      for (size_t i = 0; i < running.size() && i < 8; ++i) pids += (i ? " " : "") + std::to_string(running[i]);
      std::fprintf(stderr,
                   "connreset run: the command exited (%d); waiting for %zu process%s of its tree (%s%s)%s\n",
                   *cmd_exit, running.size(), running.size() == 1 ? "" : "es", pids.c_str(),
                   running.size() > 8 ? " ..." : "",
                   a.grace_s ? "" : "; --grace SECONDS limits the wait");
    }
    if (!done) return false;
    left_running = running;
    settle_until = now + settle_ns;  // the last RSTs and their other ends
    return false;
  };
  std::string error;
  try {
    session->run(stop, std::nullopt);
  } catch (const TracerError& e) {
    error = e.what();
  }
  tree->refresh();
  const uint64_t untracked = session->tracer().tree_untracked();
  session->finish();
  if (sinks.writer) {
    sinks.writer->close();
    // the build's user collects the artifacts; the journal is created 0700/0600 by root
    if (as.change) give_to(a.record, as);
  }
  if (!error.empty()) {
    child.abandon();
    return fail(error);
  }

  RunOutcome outcome;
  outcome.command = escape_for_terminal(joined(a.command));
  outcome.cmd_exit = cmd_exit.value_or(kRunExitInternal);
  outcome.seconds = static_cast<double>((cmd_exit_ns ? cmd_exit_ns : monotonic_now_ns()) - start_ns) / 1e9;
  outcome.wall_start_ns = wall_start_ns;
  outcome.processes = tree->members().size();
  outcome.left_running = left_running;
  outcome.untracked = untracked;

  const std::vector<Explanation>& resets = sinks.collector.resets();
  const std::vector<Finding> findings = sinks.collector.findings();
  std::map<std::string, size_t> by_cause, by_kind;
  size_t matched = 0;
  for (const Explanation& x : resets) {
    ++by_cause[std::string(cause_id(x.cause))];
    matched += fail_on.matches(x);
  }
  for (const Finding& f : findings) {
    ++by_kind[f.kind];
    matched += fail_on.matches(f);
  }
  const bool failed = !fail_on.empty() && matched > 0;
  const int exit_code = failed ? kRunExitFailOn : outcome.cmd_exit;

  if (!a.junit.empty()) {
    std::ofstream out(a.junit, std::ios::trunc);
    out << junit_xml(sinks.collector, outcome, fail_on);
    if (!out) std::fprintf(stderr, "connreset run: --junit %s: write failed\n", a.junit.c_str());
    if (as.change && chown(a.junit.c_str(), as.uid, as.gid) != 0) {
      std::fprintf(stderr, "connreset run: --junit %s: cannot give it to %s: %s\n", a.junit.c_str(),
                   as.label.c_str(), std::strerror(errno));
    }
  }
  if (const char* gha = std::getenv("GITHUB_ACTIONS"); gha && std::strcmp(gha, "true") == 0) {
    std::fputs(github_annotations(sinks.collector, fail_on).c_str(), stdout);
    std::fflush(stdout);
  }

  const RunStats& st = sinks.collector.stats();
  if (a.trace.format == OutputFormat::Json) {
    nlohmann::json j{{"schema", kJsonSchema},
                     {"type", "run"},
                     {"host", node_name()},
                     {"command", outcome.command},
                     {"exit_code", outcome.cmd_exit},
                     {"seconds", outcome.seconds},
                     {"processes", outcome.processes},
                     {"left_running", outcome.left_running},
                     {"untracked_processes", outcome.untracked},
                     {"resets", resets.size()},
                     {"findings", findings.size()},
                     {"resets_by_cause", by_cause},
                     {"findings_by_kind", by_kind},
                     {"events_lost", st.lost},
                     {"fail_on", a.fail_on},
                     {"failed", failed},
                     {"connreset_exit_code", exit_code}};
    std::fprintf(stderr, "%s\n", dump_line(j).c_str());
  }
  std::fprintf(stderr, "connreset run: `%s` exited with %d after %.1f s; its tree had %zu process%s\n",
               outcome.command.c_str(), outcome.cmd_exit, outcome.seconds, outcome.processes,
               outcome.processes == 1 ? "" : "es");
  std::fprintf(stderr, "connreset run: resets: %zu%s%s%s; findings: %zu%s%s%s\n", resets.size(),
               resets.empty() ? "" : " (", counts_by(by_cause).c_str(), resets.empty() ? "" : ")", findings.size(),
               findings.empty() ? "" : " (", counts_by(by_kind).c_str(), findings.empty() ? "" : ")");
  if (!left_running.empty()) {
    std::fprintf(stderr, "connreset run: stopped following %zu process%s still running (not reported after this)\n",
                 left_running.size(), left_running.size() == 1 ? "" : "es");
  }
  if (untracked) {
    std::fprintf(stderr, "connreset run: %llu process%s of the tree not followed: the tree map was full "
                 "(raise --max-processes)\n", static_cast<unsigned long long>(untracked), untracked == 1 ? "" : "es");
  }
  if (st.lost) {
    std::fprintf(stderr, "connreset run: %s kernel events lost (ring buffer full): resets may be missing\n",
                 thousands(st.lost).c_str());
  }
  if (!a.junit.empty()) std::fprintf(stderr, "connreset run: JUnit report: %s\n", a.junit.c_str());
  if (!a.record.empty()) std::fprintf(stderr, "connreset run: journal: %s\n", a.record.c_str());
  if (failed) {
    std::fprintf(stderr, "connreset run: --fail-on %s matched %zu of the tree's resets/findings: exit %d "
                 "(the command itself exited with %d)\n", escape_for_terminal(a.fail_on).c_str(), matched,
                 kRunExitFailOn, outcome.cmd_exit);
  }
  return exit_code;
}

}  // namespace connreset
