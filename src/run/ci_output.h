#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "sinks/sink.h"

namespace connreset {

// --fail-on any|findings|CAUSE[,CAUSE...]: which of the tree's resets and
// findings turn the run into a failure. Items combine: "unread_data_at_close,findings".
struct FailOn {
  bool any = false;       // every reset and every finding
  bool findings = false;  // every finding
  std::set<std::string> causes;

  bool empty() const { return !any && !findings && causes.empty(); }
  bool matches(const Explanation& x) const;
  bool matches(const Finding& f) const;
};

// Parses the spec; nullopt with *error naming the bad item and the valid ones.
std::optional<FailOn> parse_fail_on(std::string_view spec, std::string* error);

// What `run` reports at the end: the tree's resets and findings as they came,
// one finding per (kind, task, connection) - the kernel reports a loop again
// at 64, 128, 256, ... calls; the last report has the highest count.
class RunCollector : public Sink {
 public:
  void begin(const RunInfo& info) override { info_ = info; }
  void reset(const Explanation& x) override { resets_.push_back(x); }
  void finding(const Finding& f) override;
  void end(const RunStats& stats) override { stats_ = stats; }

  const RunInfo& info() const { return info_; }
  const std::vector<Explanation>& resets() const { return resets_; }
  std::vector<Finding> findings() const;
  const RunStats& stats() const { return stats_; }

 private:
  RunInfo info_;
  std::vector<Explanation> resets_;
  std::map<std::string, size_t> finding_index_;
  std::vector<Finding> findings_;
  RunStats stats_;
};

// Facts about the run for the reports.
struct RunOutcome {
  std::string command;        // CMD and its arguments, joined, for people
  int cmd_exit = 0;           // CMD's own exit code (128+N: killed by signal N)
  double seconds = 0;         // from CMD's start to the end of the tree
  uint64_t wall_start_ns = 0; // CLOCK_REALTIME at CMD's start
  size_t processes = 0;       // processes of the tree seen
  std::vector<uint32_t> left_running;  // still running when connreset stopped following
  uint64_t untracked = 0;     // processes not tracked: the kernel's map was full
};

// JUnit XML: one test case per reset and per finding, with the explanation;
// a failure where --fail-on matches it. A run with neither has one passing case.
std::string junit_xml(const RunCollector& run, const RunOutcome& outcome, const FailOn& fail_on);

// GitHub Actions workflow commands (::error / ::warning), one line per reset
// and finding: error where --fail-on matches, warning otherwise.
std::string github_annotations(const RunCollector& run, const FailOn& fail_on);

// XML character data / attribute value: escapes markup, and replaces what XML 1.0
// cannot carry at all (control characters, invalid UTF-8) with \xNN.
std::string xml_escape(std::string_view s);
// The data (message) part of a workflow command: %, CR and LF escaped.
std::string gha_escape_data(std::string_view s);
// A property value (title=...): also ':' and ','.
std::string gha_escape_property(std::string_view s);

}  // namespace connreset
