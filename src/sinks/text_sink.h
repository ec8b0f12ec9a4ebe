#pragma once
#include <cstdio>

#include "sinks/sink.h"

namespace connreset {

// Human-readable output: one block per reset, readable at a glance.
class TextSink : public Sink {
 public:
  explicit TextSink(std::FILE* out, bool verbose_stats = true) : out_(out), verbose_(verbose_stats) {}
  void begin(const RunInfo& info) override;
  void reset(const Explanation& x) override;
  void lifecycle(const LifecycleEvent& ev) override;
  void finding(const Finding& f) override;
  void warning(const std::string& text) override;
  void end(const RunStats& stats) override;
  void flush() override { std::fflush(out_); }

 private:
  std::FILE* out_;
  bool verbose_;
  ClockMap clock_;
};

// The block TextSink prints for one reset (exposed for tests and report).
std::string render_text(const Explanation& x, const ClockMap& clock);
void append_text(std::string& out, const Explanation& x, const ClockMap& clock);  // the same, appended
std::string render_text(const Finding& f, const ClockMap& clock);

}  // namespace connreset
