#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <memory>

#include "commands/commands.h"
#include "common/clock.h"
#include "sinks/json_sink.h"
#include "sinks/text_sink.h"

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

}  // namespace

int run_trace(TraceArgs args) {
  if (std::string err = resolve_trace_args(args); !err.empty()) {
    std::fprintf(stderr, "connreset trace: %s\n", err.c_str());
    return 2;
  }
  std::unique_ptr<Sink> sink;
  if (args.json) {
    sink = std::make_unique<JsonSink>(stdout);
  } else {
    sink = std::make_unique<TextSink>(stdout);
  }
  install_stop_handlers();
  std::unique_ptr<LiveSession> session;
  try {
    session = std::make_unique<LiveSession>(args.live, std::vector<Sink*>{sink.get()});
  } catch (const TracerError& e) {
    std::fprintf(stderr, "connreset trace: %s\n(run `connreset doctor` for details)\n", e.what());
    return 1;
  }
  if (std::string err = drop_privileges(); !err.empty()) {
    sink->warning("could not drop privileges after attaching: " + err);
  }
  std::optional<uint64_t> deadline;
  if (args.duration_s) {
    deadline = monotonic_now_ns() + static_cast<uint64_t>(*args.duration_s * 1e9);
  }
  try {
    session->run([] { return g_stop.load(); }, deadline);
  } catch (const TracerError& e) {
    std::fprintf(stderr, "connreset trace: %s\n", e.what());
    session->finish();
    return 1;
  }
  session->finish();
  return 0;
}

}  // namespace connreset
