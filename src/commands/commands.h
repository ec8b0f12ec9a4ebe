#pragma once
#include <optional>
#include <string>
#include <vector>

#include "pipeline/live_session.h"
#include "sandbox/sandbox.h"
#include "sinks/output.h"

namespace connreset {

// Options every tracing command shares: trace, demo, and (inside RecordArgs/RunArgs) record and run.
struct TraceArgs {
  LiveOptions live;
  bool json = false;             // --json: the same as -o json
  std::string output = "text";  // -o text|json|columns
  OutputFormat format = OutputFormat::Text;  // resolved from the two above
  bool all = false;
  std::optional<double> duration_s;
  std::string netns_arg;   // inode or path (/proc/PID/ns/net, /run/netns/NAME)
  std::string cgroup_arg;  // id or path under /sys/fs/cgroup
  std::string probes = "auto";
  uint32_t settle_ms = 500;
  uint32_t closed_keep_ms = 10'000;  // --closed-keep-ms; the count is live.correlator.max_closed
  uint32_t loop_threshold = kDefaultLoopThreshold;
  std::string user = "nobody";  // --user: who the process becomes after attaching
  sandbox::RunAs run_as;        // resolved from `user` by resolve_trace_args
};

// connreset record: TraceArgs plus the journal's and the metrics endpoint's options.
struct RecordArgs {
  TraceArgs trace;
  std::string out;
  uint64_t max_size = 64ull << 20;  // bytes per journal file
  size_t max_files = 8;             // files kept; the oldest is deleted past this
  std::string metrics;              // "" = off; PORT (loopback) or ADDR:PORT
  uint16_t port = 0;
};

// connreset report: journals in, explanations out.
struct ReportArgs {
  std::vector<std::string> inputs;
  bool json = false;             // --json: the same as -o json
  std::string output = "text";  // -o text|json|columns
  std::string html;
  size_t html_per_cause = 10;  // first and most recent resets per cause on the page
  uint32_t settle_ms = 500;
  uint32_t skew_ms = 2000;  // clock-skew tolerance between hosts
  std::string since, until;
  std::vector<std::string> causes;
  uint32_t pid = 0;
  std::string comm;
  uint16_t port = 0;
};

// connreset run: TraceArgs plus CMD and what CI needs (see src/commands/run.cpp).
struct RunArgs {
  TraceArgs trace;
  std::vector<std::string> command;  // CMD [ARGS...]
  std::string fail_on;               // "" = only report
  std::string junit;                 // JUnit XML file to write
  std::string record;                // journal directory
  std::string user;                  // "" = SUDO_UID under sudo, else ourselves
  std::optional<double> grace_s;     // after CMD exits, how long to wait for the rest of its tree
  uint32_t max_processes = 8192;     // processes of the tree tracked at once (kernel map)
};

// Exit codes of `connreset run` besides CMD's own (README "connreset run").
inline constexpr int kRunExitFailOn = 99;     // --fail-on matched
inline constexpr int kRunExitInternal = 125;  // connreset could not run CMD under tracing
inline constexpr int kRunExitNotExec = 126;   // CMD found but not executable
inline constexpr int kRunExitNotFound = 127;  // CMD not found

int run_cli(int argc, char** argv);
int run_run(RunArgs args);
int run_record(RecordArgs args);
int run_report(const ReportArgs& args);
int run_trace(TraceArgs args);
int run_doctor(const std::string& probes);
int run_demo(TraceArgs args);

// Resolves the textual filters into TraceArgs::live; returns an error message or "".
std::string resolve_trace_args(TraceArgs& args);

// demo: after the probes are attached, tracing needs no capability: drop them
// all (uid 0 stays: the scenarios create namespaces and forge packets).
// Returns "" or what could not be dropped.
std::string drop_privileges();

// trace, record: become args.run_as and confine the process to `policy`'s
// system calls. Returns "" or the step that failed (the caller stops: it
// must not go on with more privilege than it said it keeps).
std::string drop_to_user(const TraceArgs& args);
std::string confine_steady_state(const sandbox::Policy& policy);

}  // namespace connreset
