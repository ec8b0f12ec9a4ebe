#include <poll.h>
#include <signal.h>
#include <unistd.h>


#include <atomic>
#include <cstdio>
#include <memory>

#include "commands/commands.h"
#include "common/clock.h"
#include "sinks/output.h"

namespace connreset {
namespace {

std::atomic<bool> g_stop{false};

void on_stop_signal(int) { g_stop = true; }

void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

// stdout's reader is gone (`trace --json | head -1`) or the disk is full.
// SIGPIPE is ignored (a closed metrics client must not kill record), so the
// failed write only sets the stream's error flag; and with no events to
// write a closed pipe would never be noticed at all: poll() reports it as
// POLLERR on the write end.
bool stdout_broken() {
  if (std::ferror(stdout)) return true;
  pollfd p{STDOUT_FILENO, 0, 0};
  return poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLNVAL));
}

}  // namespace

int run_trace(TraceArgs args) {
  if (std::string err = resolve_trace_args(args); !err.empty()) {
    std::fprintf(stderr, "connreset trace: %s\n", err.c_str());
    return 2;
  }
  buffer_stdout_for_batches();
  std::unique_ptr<Sink> sink = make_output_sink(args.format, stdout);
  install_stop_handlers();
  std::unique_ptr<LiveSession> session;
  try {
    session = std::make_unique<LiveSession>(args.live, std::vector<Sink*>{sink.get()});
  } catch (const TracerError& e) {
    std::fprintf(stderr, "connreset trace: %s\n(run `connreset doctor` for details)\n", e.what());
    return 1;
  }
  std::string err = drop_to_user(args);
  if (err.empty()) err = confine_steady_state(sandbox::Policy{});
  if (!err.empty()) {
    std::fprintf(stderr, "connreset trace: %s (--user root keeps uid 0 without capabilities)\n", err.c_str());
    return 1;
  }
  if (args.live.tracer.verbose) {
    std::fprintf(stderr, "connreset trace: attached; now %s\n", sandbox::status_summary().c_str());
  }
  std::optional<uint64_t> deadline;
  if (args.duration_s) {
    deadline = monotonic_now_ns() + static_cast<uint64_t>(*args.duration_s * 1e9);
  }
  try {
    session->run([] { return g_stop.load() || stdout_broken(); }, deadline);
  } catch (const TracerError& e) {
    std::fprintf(stderr, "connreset trace: %s\n", e.what());
    session->finish();
    return 1;
  }
  session->finish();
  std::fflush(stdout);
  pollfd p{STDOUT_FILENO, 0, 0};
  // a closed pipe is how `| head` says "enough": not an error; a full disk is
  if (poll(&p, 1, 0) == 1 && (p.revents & POLLERR)) return 0;
  if (std::ferror(stdout)) {
    std::fprintf(stderr, "connreset trace: writing stdout failed (disk full or device error)\n");
    return 1;
  }
  return 0;
}

}  // namespace connreset
