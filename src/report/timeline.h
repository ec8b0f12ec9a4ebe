#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "decode/event.h"

namespace connreset::report {

// One step in a connection's life, on one end of it.
struct TimelineEntry {
  enum class Kind { Connect, State, Data, Fin, Rst, RecvResult, Close };
  uint64_t ts_ns = 0;  // wall time
  int end = 0;         // 0: the end that received the RST, 1: the end that sent it
  Kind kind = Kind::State;
  std::string what;    // "recv() -> ECONNRESET (3 calls)"; kernel strings already escaped
  std::string who;     // "cr-client[31224]" or ""
};

// How a raw event reads in a timeline, for the end it belongs to.
TimelineEntry timeline_entry(const Event& ev, int end);
// The same into an existing entry, reusing its strings.
void timeline_entry(const Event& ev, int end, TimelineEntry& into);

const char* kind_name(TimelineEntry::Kind k);  // "connect", "data", "fin", "rst", ...

}  // namespace connreset::report
