#pragma once
#include <cstdint>
#include <map>
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
  std::vector<Cause> causes;  // empty: all
  bool matches(const Explanation& x) const;
};

struct ReportOptions {
  CorrelatorOptions correlator;  // pair_window_ns is the clock-skew tolerance between hosts
  Filter filter;
  ReportFilter narrow;
  size_t max_timeline = 200;  // entries kept per connection
  // Recent events kept for timelines (0: no timelines, e.g. JSON output): a
  // reset's connection history reaches back this many events of the stream.
  size_t timeline_events = size_t{1} << 20;
};

// One explained reset with where each end was recorded and the connection's life.
struct ConnectionReport {
  Explanation x;
  std::string receiver_host;  // "" when the receiving end was not recorded
  std::string sender_host;
  std::vector<TimelineEntry> timeline;  // both ends, by time
};

struct CountRow {
  std::string key;  // raw (unescaped): renderers escape for their medium
  uint64_t count = 0;
};

// Resets counted three ways, largest first (ties by key).
struct Summary {
  std::vector<CountRow> by_cause;
  std::vector<CountRow> by_process;  // "comm (receiver)" / "comm (sender)"
  std::vector<CountRow> by_remote;   // the peer address:port, seen from the receiving end
};

// The summary tables as counters, so they cost the same for ten resets or
// ten million. A table keeps at most kMaxKeys distinct keys; later new keys
// are counted under "(other)".
class SummaryCounter {
 public:
  static constexpr size_t kMaxKeys = 10'000;
  void add(const ConnectionReport& c);
  Summary summary() const;

 private:
  std::map<std::string, uint64_t, std::less<>> cause_, process_, remote_;
  std::string key_;
};

// What a report says before its resets: the hosts and their files.
struct ReportHeader {
  RunInfo info;
  std::vector<SourceSummary> sources;  // events and totals not known yet
};

// What a report says after its resets.
struct ReportEnd {
  RunStats stats;
  ReplayOutcome replay;
  std::vector<std::string> problems;  // reading problems, then pipeline warnings
  Summary summary;
};

// Where a streamed report goes: resets and findings as they settle.
class ReportWriter {
 public:
  virtual ~ReportWriter() = default;
  virtual void begin(const ReportHeader&) {}
  virtual void reset(const ConnectionReport& c) = 0;
  // The same reset, the writer free to take its contents (swap them for storage of its own,
  // which the caller then overwrites: no copy of a reset per reset where a writer keeps some).
  virtual void take_reset(ConnectionReport& c) { reset(c); }
  virtual void finding(const Finding&) {}
  virtual void end(const ReportEnd&) {}
  virtual bool wants_timelines() const { return true; }
};

// The report as a stream: journals merged by time through the Pipeline, each
// reset narrowed and written as soon as its settle window has passed, with its
// connection's timeline from the recent-events store. Memory is bounded by
// the settle window, the correlator's socket table and the store, not by the
// journals' size.
void stream_report(const JournalSet& set, const ReportOptions& options, ReportWriter& out);

// The whole report collected in memory (tests, small inputs).
struct Report {
  ReportHeader header;
  RunInfo info;
  RunStats stats;
  ReplayOutcome replay;
  std::vector<std::string> problems;
  std::vector<ConnectionReport> resets;
  std::vector<Finding> findings;
  Summary summary;
};
Report build_report(const JournalSet& set, const ReportOptions& options);

// "2026-11-24T13:00:00Z", "...T13:00:00.5Z", Unix seconds ("1764000000.25")
// or a time before now ("15m", "2h", "90s", "1d"). nullopt: not a time, or
// one beyond what nanoseconds since 1970 hold in 64 bits (2262).
std::optional<int64_t> parse_time(const std::string& text, int64_t now_wall_ns);
std::optional<int64_t> parse_time(const std::string& text);  // now = the wall clock

}  // namespace connreset::report
