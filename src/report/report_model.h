#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "correlate/correlator.h"
#include "pipeline/filter.h"
#include "report/journal_set.h"
#include "report/replay.h"
#include "report/timeline.h"
#include "sinks/sink.h"

namespace connreset::report {

// Narrowing beyond the pipeline's --pid/--comm/--port filter.
struct ReportFilter {
  std::optional<int64_t> since_wall_ns;
  std::optional<int64_t> until_wall_ns;
  std::vector<std::string> causes;  // empty: all
  bool matches(const Explanation& x) const;
};

struct ReportOptions {
  CorrelatorOptions correlator;  // pair_window_ns is the clock-skew tolerance between hosts
  Filter filter;
  ReportFilter narrow;
  size_t max_timeline = 200;  // entries kept per connection
};

// One explained reset with where each end was recorded and the connection's life.
struct ConnectionReport {
  Explanation x;
  std::string receiver_host;  // "" when the receiving end was not recorded
  std::string sender_host;
  std::vector<TimelineEntry> timeline;  // both ends, by time
};

struct Report {
  RunInfo info;
  RunStats stats;
  ReplayOutcome replay;
  std::vector<std::string> problems;  // reading problems, then pipeline warnings
  std::vector<ConnectionReport> resets;
  std::vector<Finding> findings;  // application findings (recv loops after the end, ...)
};

// The whole report: replay through the Pipeline, narrow, then a second pass
// over the journals for the timelines of the connections that were reset.
Report build_report(const JournalSet& set, const ReportOptions& options);

// "2026-11-24T13:00:00Z", "...T13:00:00.5Z" or Unix seconds ("1764000000.25").
std::optional<int64_t> parse_time(const std::string& text);

}  // namespace connreset::report
