#include "sinks/columns_sink.h"

#include "common/escape.h"
#include "explain/explainer.h"

namespace connreset {
namespace {

// widths: HH:MM:SS.mmm, the longest cause id (22), comm[pid] of a 15-byte comm
constexpr int kTime = 12, kCause = 22, kTask = 24, kAddr = 22;

std::string pad(std::string s, size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

std::string who(const std::optional<TaskRef>& t) { return t ? task_label(*t) : "-"; }

}  // namespace

std::string columns_header() {
  return pad("TIME", kTime) + " " + pad("CAUSE", kCause) + " " + pad("SENDER", kTask) + " " +
         pad("RECEIVER", kTask) + " " + pad("LOCAL", kAddr) + " REMOTE";
}

std::string columns_line(const Explanation& x, const ClockMap& clock) {
  const ResetCase& c = x.reset;
  return pad(clock_hms_ms(clock.to_wall_ns(c.ts_ns)), kTime) + " " + pad(std::string(cause_id(x.cause)), kCause) + " " +
         pad(who(c.sender), kTask) + " " + pad(who(c.receiver), kTask) + " " + pad(c.local.str(), kAddr) +
         " " + c.remote.str();
}

void ColumnsSink::begin(const RunInfo& info) {
  clock_ = info.clock;
  std::fprintf(out_, "%s\n", columns_header().c_str());
  std::fflush(out_);
}

void ColumnsSink::reset(const Explanation& x) {
  std::fprintf(out_, "%s\n", columns_line(x, clock_).c_str());
}

void ColumnsSink::finding(const Finding& f) {
  std::fprintf(out_, "# %s finding %s %s %s <-> %s\n", clock_hms_ms(clock_.to_wall_ns(f.first_ns)).c_str(),
               f.kind.c_str(), task_label(f.task).c_str(), f.local.str().c_str(), f.remote.str().c_str());
}

void ColumnsSink::warning(const std::string& text) {
  std::fprintf(out_, "# WARNING: %s\n", escape_for_terminal(text).c_str());
  std::fflush(out_);
}

}  // namespace connreset
