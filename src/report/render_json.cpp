#include "report/render.h"
#include "sinks/json_format.h"

namespace connreset::report {

void JsonReportWriter::begin(const ReportHeader& h) {
  info_ = h.info;
  for (const SourceSummary& src : h.sources) {
    RunInfo info = h.info;
    info.hostname = src.label;
    info.kernel = src.kernel;
    nlohmann::json meta = meta_to_json(info);
    meta["files"] = src.files;
    out_.put(dump_line(meta) + "\n");
  }
}

void JsonReportWriter::reset(const ConnectionReport& c) {
  nlohmann::json j = reset_to_json(c.x, ClockMap{0});
  j["receiver_host"] = c.receiver_host.empty() ? nlohmann::json(nullptr) : nlohmann::json(c.receiver_host);
  j["sender_host"] = c.sender_host.empty() ? nlohmann::json(nullptr) : nlohmann::json(c.sender_host);
  out_.put(dump_line(j) + "\n");
}

void JsonReportWriter::finding(const Finding& f) { out_.put(dump_line(finding_to_json(f, ClockMap{0})) + "\n"); }

void JsonReportWriter::end(const ReportEnd& e) {
  for (const std::string& p : e.problems) {
    out_.put(dump_line(nlohmann::json{{"schema", kJsonSchema}, {"type", "warning"}, {"message", p}}) + "\n");
  }
  for (const SourceSummary& src : e.replay.sources) {
    out_.put(dump_line(nlohmann::json{{"schema", kJsonSchema},
                                      {"type", "host"},
                                      {"host", src.label},
                                      {"kernel", src.kernel},
                                      {"files", src.files},
                                      {"events", src.events},
                                      {"lost", src.totals.lost},
                                      {"ended_cleanly", src.ended_cleanly}}) +
             "\n");
  }
  out_.put(dump_line(stats_to_json(e.stats)) + "\n");
  out_.flush();
}

std::string render_json_report(const Report& rep) {
  std::string s;
  {
    Output out(&s);
    JsonReportWriter w(out);
    w.begin(rep.header);
    for (const ConnectionReport& c : rep.resets) w.reset(c);
    for (const Finding& f : rep.findings) w.finding(f);
    w.end(ReportEnd{rep.stats, rep.replay, rep.problems, rep.summary});
  }
  return s;
}

}  // namespace connreset::report
