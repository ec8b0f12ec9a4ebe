#pragma once
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "sinks/sink.h"

namespace connreset {

// JSON lines (--json): meta first, one object per reset, stats last.
class JsonSink : public Sink {
 public:
  explicit JsonSink(std::FILE* out);
  void begin(const RunInfo& info) override;
  void reset(const Explanation& x) override;
  void lifecycle(const LifecycleEvent& ev) override;
  void finding(const Finding& f) override;
  void warning(const std::string& text) override;
  void end(const RunStats& stats) override;
  void flush() override;

 private:
  void line(nlohmann::json j);  // adds `host`: every line says which node it is from
  void write_lines();           // the reset lines gathered so far, to out_
  std::FILE* out_;
  std::string host_;
  ClockMap clock_;
  // reset lines gathered for one fwrite (a call per line was ~2% of trace --json in a storm)
  std::string buf_;
  static constexpr size_t kBatchBytes = 64 << 10;
};

}  // namespace connreset
