#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "journal/format.h"
#include "pipeline/pipeline.h"
#include "report/journal_set.h"

namespace connreset::report {

// An event as report sees it: ts_ns is wall-clock time (ns since the epoch,
// from its file's clock offset) and cookie a report-wide id, because cookies
// are only unique per host and boot.
struct ReplayedEvent {
  Event event;
  size_t source = 0;
};

struct SourceSummary {
  std::string label;
  std::string kernel;
  size_t files = 0;
  uint64_t events = 0;
  journal::KernelTotals totals;  // the kernel's counters, last recorded
  bool ended_cleanly = true;     // every file has its end record
};

struct ReplayOutcome {
  std::vector<std::string> problems;  // torn/corrupt records, missing end records: one line each
  std::vector<SourceSummary> sources;
  uint64_t events = 0;
  int64_t first_wall_ns = 0;
  int64_t last_wall_ns = 0;
  uint64_t decode_errors = 0;   // event records the decoder refused
  uint64_t skipped_bytes = 0;   // in corrupt regions, all files
  uint64_t files_skipped = 0;   // wholly outside --since/--until
};

// Which part of the journals to read. Events this far outside [since, until]
// are still read (lookback_ns before: what a reset's sockets did earlier;
// lookahead_ns after: the other end of a reset, the settle window).
struct ReplayWindow {
  std::optional<int64_t> since_wall_ns;
  std::optional<int64_t> until_wall_ns;
  int64_t lookback_ns = 0;
  int64_t lookahead_ns = 0;
};

// Report-wide cookies: the source in the top bits, the host's cookie below
// (no table that grows with the journal). Host cookies count sockets since
// boot: 2^44 of them is beyond any real uptime; larger ones are folded.
inline constexpr int kCookieSourceShift = 44;
inline uint64_t report_cookie(size_t source, uint64_t host_cookie) {
  constexpr uint64_t mask = (uint64_t{1} << kCookieSourceShift) - 1;
  const uint64_t low = (host_cookie ^ (host_cookie >> kCookieSourceShift)) & mask;
  return (static_cast<uint64_t>(source + 1) << kCookieSourceShift) | low;
}
inline std::optional<size_t> source_of_cookie(uint64_t cookie) {
  const uint64_t s = cookie >> kCookieSourceShift;
  if (s == 0) return std::nullopt;
  return static_cast<size_t>(s - 1);
}

// Streams every journal's events in wall-time order (each host's own records
// in the order they were written: a k-way merge, one open file and one read
// window per host) through `pipeline` - the same decoder, correlator and
// explainer as live tracing - driving Correlator::tick from event time.
// on_event sees each event before the pipeline does. pipeline may be null.
ReplayOutcome replay(const JournalSet& set, Pipeline* pipeline,
                     const std::function<void(const ReplayedEvent&)>& on_event = {},
                     const ReplayWindow& window = {});

// What RunInfo says for a report: the hosts, clock already wall time.
RunInfo report_run_info(const JournalSet& set);

}  // namespace connreset::report
