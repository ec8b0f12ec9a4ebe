#pragma once
#include <deque>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "report/report_model.h"
#include "report/summary.h"

namespace connreset::report {

// JSON lines, streamed: a meta object per host, one reset object per reset
// as it settles (the objects of trace --json, plus receiver_host/sender_host),
// findings, then warnings, a "host" object per host (events, files, lost,
// ended_cleanly) and the stats.
class JsonReportWriter : public ReportWriter {
 public:
  explicit JsonReportWriter(Output& out) : out_(out) {}
  void begin(const ReportHeader& h) override;
  void reset(const ConnectionReport& c) override;
  void finding(const Finding& f) override;
  void end(const ReportEnd& e) override;
  bool wants_timelines() const override { return false; }

 private:
  // every line names a host: its source's, where the reset was seen, or
  // (findings, warnings, stats) the hosts the report covers
  void line(nlohmann::json j, const std::string& host = {});
  Output& out_;
  RunInfo info_;
  std::string line_;
};
std::string render_json_report(const Report& rep);
// One reset line of report --json (without the newline); `host` names where
// the reset was seen, report_host when no journal says.
std::string json_reset_line(const ConnectionReport& c, const std::string& report_host);

// -o columns: the header, then one line per reset as it settles (trace -o columns' lines).
class ColumnsReportWriter : public ReportWriter {
 public:
  explicit ColumnsReportWriter(Output& out) : out_(out) {}
  void begin(const ReportHeader& h) override;
  void reset(const ConnectionReport& c) override;
  void end(const ReportEnd& e) override;
  bool wants_timelines() const override { return false; }

 private:
  Output& out_;
};

// One self-contained HTML page (no scripts, no network), small whatever the
// journals' size: the summary tables, then per cause the first and the most
// recent `per_cause` resets, each with an SVG timeline of both ends (times to
// scale, long gaps cut and labelled), and the count of those in between.
// Every kernel string is HTML-escaped.
class HtmlReportWriter : public ReportWriter {
 public:
  explicit HtmlReportWriter(size_t per_cause = 10) : per_cause_(per_cause) {}
  void begin(const ReportHeader& h) override { header_ = h; }
  void reset(const ConnectionReport& c) override;
  void take_reset(ConnectionReport& c) override;  // the most recent ones by swap, not copy
  void finding(const Finding& f) override;
  void end(const ReportEnd& e) override;
  const std::string& page() const { return page_; }

 private:
  struct CauseSamples {
    uint64_t count = 0;
    std::vector<ConnectionReport> first;
    std::vector<ConnectionReport> recent;  // a ring once full: recent_next is the oldest
    size_t recent_next = 0;
  };
  // c's cause's samples if c is one of the first: nullptr then, else the ring slot it goes to
  ConnectionReport* sample_slot(const ConnectionReport& c);
  size_t per_cause_;
  ReportHeader header_;
  std::map<std::string, CauseSamples, std::less<>> causes_;
  std::vector<Finding> findings_;
  uint64_t findings_count_ = 0;
  std::string page_;
};
std::string render_html_report(const Report& rep, size_t per_cause = 10);

// Writes `text` to path as a new file of mode 0600 (it names processes of the
// recorded hosts): a temporary file in the same directory, then rename(), so
// a symlink at path is replaced, never followed, and readers never see half a page.
bool write_private_file(const std::string& path, const std::string& text, std::string* error);

std::string html_escape(std::string_view raw);

}  // namespace connreset::report
