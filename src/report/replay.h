#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
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
  std::unordered_map<uint64_t, size_t> cookie_source;  // report-wide cookie -> source
  uint64_t events = 0;
  int64_t first_wall_ns = 0;
  int64_t last_wall_ns = 0;
};

// Streams every journal's events in wall-time order (each host's own records
// in the order they were written) through `pipeline` - the same decoder,
// correlator and explainer as live tracing - driving Correlator::tick from
// event time. pipeline may be null (a second pass that only wants events).
ReplayOutcome replay(const JournalSet& set, Pipeline* pipeline,
                     const std::function<void(const ReplayedEvent&)>& on_event = {});

// What RunInfo says for a report: the hosts, clock already wall time.
RunInfo report_run_info(const JournalSet& set);

}  // namespace connreset::report
