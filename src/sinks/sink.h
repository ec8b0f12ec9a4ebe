#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "correlate/reset_case.h"
#include "explain/explanation.h"

namespace connreset {

// Facts about the run, printed once at the start (JSON: a "meta" record).
struct RunInfo {
  std::string command;  // "trace", "demo", ...
  std::string hostname;
  std::string kernel;
  // logical probe -> "implementation (why)"
  std::vector<std::pair<std::string, std::string>> probes;
  ClockMap clock;
};

struct RunStats {
  uint64_t events = 0;           // records read from the kernel
  uint64_t lost = 0;             // records the kernel could not queue (ring buffer full)
  uint64_t call_table_full = 0;  // recv/send aggregation entries not created
  uint64_t decode_errors = 0;
  uint64_t resets = 0;
  uint64_t findings = 0;
  uint64_t sockets_tracked = 0;
  uint64_t sockets_evicted = 0;
  // state changes the kernel left out because another record implies them (its quiet path;
  // none with --all): counted there, so "fewer events" is never mistaken for fewer connections
  uint64_t states_folded = 0;
  // closes the kernel left out because an RST was to carry them (the close that announces an
  // RST rides on its RESET_SENT record) and whose RST never came: that close went unreported
  uint64_t close_unmatched = 0;
};

class Sink {
 public:
  virtual ~Sink() = default;
  virtual void begin(const RunInfo&) {}
  virtual void reset(const Explanation& x) = 0;
  virtual void lifecycle(const LifecycleEvent&) {}
  virtual void finding(const Finding&) {}
  virtual void warning(const std::string&) {}
  virtual void end(const RunStats&) {}
  // Called after each batch of events (every poll of the ring buffer, <= 100 ms apart): sinks
  // that write a stream flush it here, not once per line (a write(2) per reset in a storm).
  virtual void flush() {}
  // Whether this sink wants what correlation produces (resets, findings, state changes). When
  // no sink of a pipeline does (`record` without --json or --metrics: its journal takes the raw
  // events), the pipeline does not correlate at all: that was most of record's CPU in a storm.
  virtual bool wants_explanations() const { return true; }
};

}  // namespace connreset
