#include "sinks/json_sink.h"

#include "sinks/json_format.h"

namespace connreset {

void JsonSink::line(const std::string& s) {
  std::fputs(s.c_str(), out_);
  std::fputc('\n', out_);
  std::fflush(out_);
}

void JsonSink::begin(const RunInfo& info) {
  clock_ = info.clock;
  line(dump_line(meta_to_json(info)));
}

void JsonSink::reset(const Explanation& x) { line(dump_line(reset_to_json(x, clock_))); }

void JsonSink::lifecycle(const LifecycleEvent& ev) { line(dump_line(lifecycle_to_json(ev, clock_))); }

void JsonSink::finding(const Finding& f) { line(dump_line(finding_to_json(f, clock_))); }

void JsonSink::warning(const std::string& text) {
  line(dump_line(nlohmann::json{{"schema", kJsonSchema}, {"type", "warning"}, {"message", text}}));
}

void JsonSink::end(const RunStats& stats) { line(dump_line(stats_to_json(stats))); }

}  // namespace connreset
