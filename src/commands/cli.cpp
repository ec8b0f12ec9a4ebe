#include <CLI/CLI.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "commands/commands.h"
#include "common/escape.h"
#include "explain/causes.h"

namespace connreset {
namespace {

// A number of seconds: finite, within [lo, hi]. CLI11's Range lets NaN
// through (every comparison with it is false) and a value like 1.8e10 s
// overflows the nanosecond deadline, so both are refused here by name.
CLI::Validator seconds_in(double lo, double hi) {
  return CLI::Validator(
      [lo, hi](std::string& text) -> std::string {
        char* end = nullptr;
        const double v = std::strtod(text.c_str(), &end);
        if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(v)) {
          return "expected a number of seconds, got " + text;
        }
        if (v < lo || v > hi) {
          return text + " is out of range: " + CLI::detail::to_string(lo) + " to " +
                 CLI::detail::to_string(hi) + " seconds";
        }
        return "";
      },
      "SECONDS");
}

const CLI::Validator kPowerOfTwo(
    [](std::string& text) -> std::string {
      const unsigned long long v = std::strtoull(text.c_str(), nullptr, 10);
      return v && !(v & (v - 1)) ? "" : "must be a power of two, got " + text;
    },
    "POWER OF TWO");

// A week: longer runs do not need a deadline (Ctrl-C, SIGTERM or a service manager stop them).
constexpr double kMaxDurationS = 7 * 24 * 3600.0;

// A cause id from the catalog; the error lists the valid ones.
CLI::Validator cause_check() {
  return CLI::Validator(
      [](std::string& id) {
        return cause_from_id(id) ? std::string() : "unknown cause '" + id + "'; valid causes: " + cause_ids();
      },
      "CAUSE");
}

// -o text|json|columns, and --json as its older spelling.
void add_output_options(CLI::App& cmd, std::string& output, bool& json) {
  CLI::Option* o = cmd.add_option("-o,--output", output,
                                  "Output: text (a block per reset), json (JSON lines), columns "
                                  "(one line per reset, time first)")
                       ->check(CLI::IsMember({"text", "json", "columns"}));
  cmd.add_flag("--json", json, "JSON lines (the same as -o json)")->excludes(o);
}

// Options of every command that attaches probes; with_output: it prints explanations.
void add_tracing_options(CLI::App& cmd, TraceArgs& a, bool with_output = true) {
  cmd.add_option("--probes", a.probes, "Probe family: auto, tracepoint, fentry, kprobe")
      ->check(CLI::IsMember({"auto", "tracepoint", "fentry", "kprobe"}));
  cmd.add_option("--ringbuf-kib", a.live.tracer.ringbuf_kib,
                 "Kernel ring buffer size in KiB (power of two)")
      ->check(CLI::Range(4u, 1u << 20) & kPowerOfTwo);
  cmd.add_option("--max-tracked", a.live.tracer.max_tracked,
                 "Sockets whose state the kernel keeps (tp_btf/fentry plans: 184 bytes each, "
                 "preallocated), and recv()/send() aggregation entries per (socket, task, direction) "
                 "(kprobe plans, and tasks beyond a socket's first)")
      ->check(CLI::Range(1024u, 1u << 24));
  cmd.add_option("--settle-ms", a.settle_ms,
                 "How long to wait for the other end of a reset before reporting it")
      ->check(CLI::Range(10u, 60000u));
  cmd.add_option("--max-closed", a.live.correlator.max_closed,
                 "Closed sockets kept to name the closed end of later RSTs (TIME_WAIT answers); "
                 "the oldest go first. Bounds the memory in a reset storm")
      ->check(CLI::Range(size_t{1024}, size_t{1} << 24))
      ->capture_default_str();
  cmd.add_option("--closed-keep-ms", a.closed_keep_ms,
                 "How long a closed socket is kept at most (see --max-closed)")
      ->check(CLI::Range(1000u, 600'000u))
      ->capture_default_str();
  cmd.add_option("--loop-threshold", a.loop_threshold,
                 "Calls after recv() returned 0 or an error before that is reported as a finding")
      ->check(CLI::Range(2u, 1u << 30));
  if (with_output) add_output_options(cmd, a.output, a.json);
  cmd.add_option("--pod-logs", a.live.enrich.pod_logs,
                 "The kubelet's pod log directory, which names pods and containers "
                 "(<namespace>_<pod>_<uid>/<container>/; container ids from ../containers)")
      ->capture_default_str();
  cmd.add_flag("-v,--verbose", a.live.tracer.verbose, "Show libbpf's messages");
}

// Each command's --help ends with examples: what people copy first.
void add_examples(CLI::App& app) {
  const std::vector<std::pair<const char*, const char*>> examples = {
      {"trace",
       "  sudo connreset trace                         # every reset on this host, explained\n"
       "  sudo connreset trace -o columns              # one line per reset: TIME CAUSE SENDER ...\n"
       "  sudo connreset trace --json --port 8080      # JSON lines, connections on port 8080\n"
       "  sudo connreset trace --comm nginx --duration 60\n"
       "  sudo connreset trace --netns /run/netns/blue --all\n"
       "  sudo connreset trace -o json --pod-logs /host/var/log/pods   # in a container: the node's logs"},
      {"record",
       "  sudo connreset record --out /var/lib/connreset\n"
       "  sudo connreset record --out /var/lib/connreset --max-size 67108864 --max-files 16 --metrics 9464"},
      {"report",
       "  connreset report /var/lib/connreset                    # summary, then every reset\n"
       "  connreset report --json hostA/ hostB/ --skew-ms 500    # several hosts, merged\n"
       "  connreset report /var/lib/connreset -o columns --cause unread_data_at_close\n"
       "  connreset report /var/lib/connreset --html report.html --since 2026-11-24T13:00:00Z"},
      {"doctor", "  sudo connreset doctor\n  sudo connreset doctor --probes kprobe"},
      {"run",
       "  sudo connreset run -- make test                       # the resets the tests' processes take part in\n"
       "  sudo connreset run --fail-on any --junit resets.xml -- ./integration.sh"},
      {"demo", "  sudo connreset demo\n  sudo connreset demo --json"},
  };
  for (const auto& [name, text] : examples) {
    for (CLI::App* sub : app.get_subcommands({})) {
      if (sub->get_name() == name) sub->footer(std::string("\nExamples:\n") + text);
    }
  }
}

std::string command_names(CLI::App& app) {
  std::string names;
  for (CLI::App* sub : app.get_subcommands({})) names += (names.empty() ? "" : ", ") + sub->get_name();
  return names;
}

// One line that says what was wrong and where to look, exit code 2 (usage).
int usage_error(CLI::App& app, const CLI::ParseError& e, int argc, char** argv) {
  if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
  // the first word that is not an option names the command
  std::string first;
  for (int i = 1; i < argc; ++i) {
    if (argv[i][0] != '-') {
      first = argv[i];
      break;
    }
  }
  CLI::App* cmd = nullptr;
  for (CLI::App* sub : app.get_subcommands({})) {
    if (sub->get_name() == first) cmd = sub;
  }
  if (!cmd) {
    if (first.empty()) {
      std::fprintf(stderr, "connreset: no command given; commands: %s (see connreset --help)\n",
                   command_names(app).c_str());
    } else {
      std::fprintf(stderr, "connreset: unknown command '%s'; commands: %s (see connreset --help)\n",
                   escape_for_terminal(first).c_str(), command_names(app).c_str());
    }
    return 2;
  }
  std::string what = e.what();
  if (const std::string prefix = "The following argument was not expected: "; what.rfind(prefix, 0) == 0) {
    const std::string arg = what.substr(prefix.size());
    what = (arg.rfind("-", 0) == 0 ? "unknown option " : "unexpected argument ") + arg;
  } else if (const std::string prefix2 = "The following arguments were not expected: ";
             what.rfind(prefix2, 0) == 0) {
    what = "unexpected arguments " + what.substr(prefix2.size());
  }
  std::fprintf(stderr, "connreset %s: %s (see connreset %s --help)\n", cmd->get_name().c_str(),
               escape_for_terminal(what).c_str(), cmd->get_name().c_str());
  return 2;
}

// trace and record become this user once attached; demo keeps uid 0 for its scenarios.
void add_user_option(CLI::App& cmd, TraceArgs& a) {
  cmd.add_option("--user", a.user,
                 "Run as this user once attached: no capabilities, seccomp-confined "
                 "(root keeps uid 0 without capabilities)")
      ->capture_default_str();
}

}  // namespace

int run_cli(int argc, char** argv) {
  CLI::App app{
      "connreset: explains TCP connection resets (ECONNRESET) - who reset the connection, how "
      "the kernel got there, the evidence, and what to change."};
  app.require_subcommand(1);
  app.set_version_flag("--version", "connreset 0.1.0");

  TraceArgs trace;
  CLI::App* trace_cmd = app.add_subcommand("trace", "Trace live and explain every reset");
  add_tracing_options(*trace_cmd, trace);
  add_user_option(*trace_cmd, trace);
  uint32_t pid = 0;
  std::string comm;
  uint16_t port = 0;
  trace_cmd->add_option("-p,--pid", pid, "Only resets involving this process (tgid)");
  trace_cmd->add_option("-c,--comm", comm, "Only resets involving this process name");
  trace_cmd->add_option("-P,--port", port, "Only connections with this local or remote port")
      ->check(CLI::Range(1, 65535));
  trace_cmd->add_option("--cgroup", trace.cgroup_arg, "Only resets involving this cgroup (id or path)");
  trace_cmd->add_option("--netns", trace.netns_arg,
                        "Only this network namespace (inode, /proc/PID/ns/net or /run/netns/NAME)");
  trace_cmd->add_option("-d,--duration", trace.duration_s, "Stop after this many seconds")
      ->check(seconds_in(0.001, kMaxDurationS));
  trace_cmd->add_flag("-a,--all", trace.all, "Also print every TCP state change (FIN closes too)");

  std::string doctor_probes = "auto";
  CLI::App* doctor_cmd =
      app.add_subcommand("doctor", "Check the kernel and permissions; show the attach plan");
  doctor_cmd->add_option("--probes", doctor_probes, "Probe family to check")
      ->check(CLI::IsMember({"auto", "tracepoint", "fentry", "kprobe"}));

  TraceArgs demo;
  CLI::App* demo_cmd = app.add_subcommand(
      "demo", "Reproduce resets with real sockets in a private network namespace and explain them");
  add_tracing_options(*demo_cmd, demo);

  RecordArgs record;
  CLI::App* record_cmd = app.add_subcommand(
      "record", "Trace live into a journal (rotated files) for `connreset report` later");
  add_tracing_options(*record_cmd, record.trace, /*with_output=*/false);  // it writes journals
  add_user_option(*record_cmd, record.trace);
  record_cmd->add_option("-o,--out", record.out, "Journal directory (created 0700)")->required();
  record_cmd->add_flag("--json", record.trace.json,
                       "Also print each explained reset as a JSON line on stdout (as trace --json), "
                       "for a log collector");
  record_cmd->add_option("--max-size", record.max_size, "Bytes per journal file before rotating")
      ->check(CLI::Range(uint64_t{4096}, uint64_t{1} << 40));
  record_cmd->add_option("--max-files", record.max_files, "Journal files kept; the oldest is deleted")
      ->check(CLI::Range(size_t{1}, size_t{100000}));
  record_cmd->add_option("--metrics", record.metrics,
                         "Serve Prometheus metrics at http://ADDR/metrics (PORT binds 127.0.0.1)");
  record_cmd->add_option("--netns", record.trace.netns_arg,
                         "Journal only this network namespace (inode or path)");
  record_cmd->add_option("-P,--port", record.port, "Only connections with this port (kernel filter)")
      ->check(CLI::Range(1, 65535));
  record_cmd->add_flag("-a,--all", record.trace.all,
                       "Journal every TCP state change: none left out in the kernel, so report's "
                       "timelines show each one (more events per connection)");

  ReportArgs report;
  CLI::App* report_cmd = app.add_subcommand(
      "report", "Explain the resets in journals from one or more hosts (post-mortem)");
  report_cmd->add_option("journals", report.inputs, "Journal files or directories")->required();
  add_output_options(*report_cmd, report.output, report.json);
  report_cmd->add_option("--html", report.html, "Also write a self-contained HTML page to FILE");
  report_cmd->add_option("--html-per-cause", report.html_per_cause,
                         "Resets shown per cause on the HTML page: the first N and the most recent N")
      ->capture_default_str()
      ->check(CLI::Range(size_t{0}, size_t{1000}));
  report_cmd->add_option("--settle-ms", report.settle_ms, "Wait for the other end of a reset (event time)")
      ->check(CLI::Range(10u, 60000u));
  report_cmd->add_option("--skew-ms", report.skew_ms,
                         "Clock-skew tolerance when pairing the two ends recorded on different hosts")
      ->check(CLI::Range(1u, 600000u));
  report_cmd->add_option("--since", report.since, "Only resets at or after (RFC 3339 UTC, Unix seconds, or ago: 15m, 2h, 1d)");
  report_cmd->add_option("--until", report.until, "Only resets at or before");
  report_cmd->add_option("--cause", report.causes, "Only this cause (repeatable): " + cause_ids())
      ->check(cause_check());
  report_cmd->add_option("-p,--pid", report.pid, "Only resets involving this process");
  report_cmd->add_option("-c,--comm", report.comm, "Only resets involving this process name");
  report_cmd->add_option("-P,--port", report.port, "Only connections with this port")
      ->check(CLI::Range(1, 65535));

  RunArgs run;
  CLI::App* run_cmd = app.add_subcommand(
      "run", "Run CMD, follow its whole process tree and report the resets it takes part in (for CI)");
  add_tracing_options(*run_cmd, run.trace);
  run_cmd->add_option("--fail-on", run.fail_on,
                      "Exit " + std::to_string(kRunExitFailOn) + " when the tree had: any (reset or finding), "
                      "findings, or resets of these causes (comma-separated ids)");
  run_cmd->add_option("--junit", run.junit, "Write a JUnit XML report (one test case per reset/finding)");
  run_cmd->add_option("--record", run.record, "Also journal the run to DIR (for `connreset report --html`)");
  run_cmd->add_option("--user", run.user,
                      "Run CMD as this user (name or uid); default under sudo: the invoking user");
  run_cmd->add_option("--grace", run.grace_s,
                      "After CMD exits, wait at most this many seconds for the rest of its tree")
      ->check(CLI::NonNegativeNumber);
  run_cmd->add_option("--max-processes", run.max_processes,
                      "Processes of the tree the kernel tracks at once")
      ->check(CLI::Range(16u, 1u << 22));
  run_cmd->add_option("command", run.command, "CMD [ARGS...], after --")->required();

  add_examples(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = usage_error(app, e, argc, argv);
    // run's exit codes are CMD's: its own usage errors get the documented code
    if (rc != 0 && argc > 1 && std::string(argv[1]) == "run") return kRunExitInternal;
    return rc;
  }

  if (*trace_cmd) {
    if (pid) trace.live.filter.pid = pid;
    if (!comm.empty()) trace.live.filter.comm = comm;
    if (port) {
      trace.live.filter.port = port;
      trace.live.tracer.filter_port = port;  // cheap exit in the kernel too
    }
    return run_trace(std::move(trace));
  }
  if (*doctor_cmd) return run_doctor(doctor_probes);
  if (*demo_cmd) return run_demo(std::move(demo));
  if (*record_cmd) return run_record(std::move(record));
  if (*report_cmd) return run_report(report);
  if (*run_cmd) return run_run(std::move(run));
  return 2;
}

}  // namespace connreset
