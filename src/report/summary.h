#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "report/report_model.h"

namespace connreset::report {

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

Summary summarize(const std::vector<ConnectionReport>& resets);

// The plain-text report: header, problems, summary tables, then each reset
// explained with its connection's timeline.
std::string render_text_report(const Report& rep);

}  // namespace connreset::report
