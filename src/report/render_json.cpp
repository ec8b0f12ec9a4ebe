#include "report/render.h"
#include "sinks/json_format.h"

namespace connreset::report {

std::string render_json_report(const Report& rep) {
  std::string out;
  auto line = [&](const nlohmann::json& j) { out += dump_line(j) + "\n"; };
  for (const SourceSummary& src : rep.replay.sources) {
    RunInfo info = rep.info;
    info.hostname = src.label;
    info.kernel = src.kernel;
    nlohmann::json meta = meta_to_json(info);
    meta["events"] = src.events;
    meta["files"] = src.files;
    meta["ended_cleanly"] = src.ended_cleanly;
    line(meta);
  }
  for (const std::string& p : rep.problems) {
    line(nlohmann::json{{"schema", kJsonSchema}, {"type", "warning"}, {"message", p}});
  }
  const ClockMap wall{0};
  for (const ConnectionReport& c : rep.resets) {
    nlohmann::json j = reset_to_json(c.x, wall);
    j["receiver_host"] = c.receiver_host.empty() ? nlohmann::json(nullptr) : nlohmann::json(c.receiver_host);
    j["sender_host"] = c.sender_host.empty() ? nlohmann::json(nullptr) : nlohmann::json(c.sender_host);
    line(j);
  }
  for (const Finding& f : rep.findings) line(finding_to_json(f, wall));
  line(stats_to_json(rep.stats));
  return out;
}

}  // namespace connreset::report
