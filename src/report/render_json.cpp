#include "report/render.h"
#include "sinks/columns_sink.h"
#include "sinks/json_format.h"
#include "sinks/json_line.h"

#include <charconv>

#include "common/names.h"

namespace connreset::report {
namespace {

// The reset line of report --json: trace's line (sinks/json_line.h, the one direct writer of
// reset_to_json's fields) plus where each end was recorded; "host" names where the reset was
// seen, the report's host when no journal says.
void reset_line(const ConnectionReport& c, const std::string& report_host, std::string& out) {
  const RecordedHosts recorded{c.receiver_host, c.sender_host};
  append_reset_line(out, c.x, ClockMap{0},
                    !c.receiver_host.empty() ? c.receiver_host
                    : !c.sender_host.empty() ? c.sender_host
                                             : report_host,
                    &recorded);
}

}  // namespace

std::string json_reset_line(const ConnectionReport& c, const std::string& report_host) {
  std::string s;
  reset_line(c, report_host, s);
  return s;
}

void JsonReportWriter::line(nlohmann::json j, const std::string& host) {
  if (!j.contains("host")) j["host"] = host.empty() ? info_.hostname : host;
  out_.put(dump_line(j) + "\n");
}

void JsonReportWriter::begin(const ReportHeader& h) {
  info_ = h.info;
  for (const SourceSummary& src : h.sources) {
    RunInfo info = h.info;
    info.hostname = src.label;
    info.kernel = src.kernel;
    nlohmann::json meta = meta_to_json(info);
    meta["files"] = src.files;
    line(std::move(meta));
  }
}

void JsonReportWriter::reset(const ConnectionReport& c) {
  line_.clear();
  reset_line(c, info_.hostname, line_);
  line_ += '\n';
  out_.put(line_);
}

void JsonReportWriter::finding(const Finding& f) { line(finding_to_json(f, ClockMap{0})); }

void JsonReportWriter::end(const ReportEnd& e) {
  for (const std::string& p : e.problems) {
    line(nlohmann::json{{"schema", kJsonSchema}, {"type", "warning"}, {"message", p}});
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
  line(stats_to_json(e.stats));
  out_.flush();
}

void ColumnsReportWriter::begin(const ReportHeader&) { out_.put(columns_header() + "\n"); }

void ColumnsReportWriter::reset(const ConnectionReport& c) { out_.put(columns_line(c.x, ClockMap{0}) + "\n"); }

void ColumnsReportWriter::end(const ReportEnd&) { out_.flush(); }

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
