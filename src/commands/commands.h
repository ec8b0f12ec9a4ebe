#pragma once
#include <optional>
#include <string>

#include "pipeline/live_session.h"

namespace connreset {

// Options every tracing command shares (trace, demo; later record).
struct TraceArgs {
  LiveOptions live;
  bool json = false;
  bool all = false;
  std::optional<double> duration_s;
  std::string netns_arg;   // inode or path (/proc/PID/ns/net, /run/netns/NAME)
  std::string cgroup_arg;  // id or path under /sys/fs/cgroup
  std::string probes = "auto";
  uint32_t settle_ms = 500;
  uint32_t loop_threshold = 64;
};

int run_cli(int argc, char** argv);
int run_trace(TraceArgs args);
int run_doctor(const std::string& probes);
int run_demo(TraceArgs args);

// Resolves the textual filters into TraceArgs::live; returns an error message or "".
std::string resolve_trace_args(TraceArgs& args);

// After the probes are attached, tracing needs no capability: drop them all.
// Returns "" or what could not be dropped.
std::string drop_privileges();

}  // namespace connreset
