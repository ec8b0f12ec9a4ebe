#pragma once
#include <cstdio>
#include <string>

#include "sinks/sink.h"

namespace connreset {

// -o columns: one line per reset, time first, like bcc's tcpstates - for a
// terminal left open, or grep and awk. Findings and warnings are lines that
// start with '#', so the columns stay parseable.
class ColumnsSink : public Sink {
 public:
  explicit ColumnsSink(std::FILE* out) : out_(out) {}
  void begin(const RunInfo& info) override;
  void reset(const Explanation& x) override;
  void finding(const Finding& f) override;
  void warning(const std::string& text) override;
  void end(const RunStats&) override { flush(); }
  void flush() override { std::fflush(out_); }

 private:
  std::FILE* out_;
  ClockMap clock_;
};

std::string columns_header();
std::string columns_line(const Explanation& x, const ClockMap& clock);

}  // namespace connreset
