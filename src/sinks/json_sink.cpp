#include "sinks/json_sink.h"

#include "common/host.h"
#include "sinks/json_format.h"
#include "sinks/json_line.h"

namespace connreset {

JsonSink::JsonSink(std::FILE* out) : out_(out), host_(node_name()) {}

void JsonSink::line(nlohmann::json j) {
  write_lines();  // in the order they happened
  j["host"] = host_;
  const std::string s = dump_line(j);
  std::fputs(s.c_str(), out_);
  std::fputc('\n', out_);
}

void JsonSink::write_lines() {
  if (buf_.empty()) return;
  std::fwrite(buf_.data(), 1, buf_.size(), out_);
  buf_.clear();
}

void JsonSink::flush() {
  write_lines();
  std::fflush(out_);
}

void JsonSink::begin(const RunInfo& info) {
  clock_ = info.clock;
  host_ = info.hostname;
  line(meta_to_json(info));
  flush();
}

// Written directly, not through a json tree: one line per reset in a storm (json_line.h).
void JsonSink::reset(const Explanation& x) {
  append_reset_line(buf_, x, clock_, host_);
  buf_ += '\n';
  if (buf_.size() >= kBatchBytes) write_lines();
}

void JsonSink::lifecycle(const LifecycleEvent& ev) { line(lifecycle_to_json(ev, clock_)); }

void JsonSink::finding(const Finding& f) { line(finding_to_json(f, clock_)); }

void JsonSink::warning(const std::string& text) {
  line(nlohmann::json{{"schema", kJsonSchema}, {"type", "warning"}, {"message", text}});
  flush();
}

void JsonSink::end(const RunStats& stats) {
  line(stats_to_json(stats));
  flush();
}

}  // namespace connreset
