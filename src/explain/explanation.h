#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "correlate/reset_case.h"
#include "explain/causes.h"

namespace connreset {

struct Linger {
  bool on = false;
  double seconds = 0;
};

// A reset, judged: the cause from the catalog, the evidence, one plain
// sentence and the advice. Sinks render this and nothing else.
struct Explanation {
  Cause cause = Cause::RemoteUnknown;  // cause_id() gives the stable id
  ResetCase reset;
  std::string rst_reason;   // kernel enum name, "" when the kernel has none
  std::string kernel_path;  // how the kernel got there
  std::string because;      // what happened, one sentence
  std::string advice;       // what to change
  std::optional<uint32_t> unread_bytes;
  std::optional<Linger> linger;
};

}  // namespace connreset
