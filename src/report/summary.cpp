#include "report/summary.h"

#include <algorithm>
#include <cstdio>

#include "common/clock.h"
#include "common/escape.h"
#include "common/names.h"
#include "sinks/text_sink.h"

namespace connreset::report {
namespace {

std::string table(const std::string& title, const std::vector<CountRow>& rows) {
  constexpr size_t kMaxRows = 20;
  std::string s = title + "\n";
  if (rows.empty()) return s + "  (none)\n";
  for (size_t i = 0; i < rows.size() && i < kMaxRows; ++i) {
    char count[32];
    std::snprintf(count, sizeof(count), "%8s", thousands(rows[i].count).c_str());
    s += std::string("  ") + count + "  " + escape_for_terminal(rows[i].key) + "\n";
  }
  if (rows.size() > kMaxRows) s += "  ... " + thousands(rows.size() - kMaxRows) + " more\n";
  return s;
}

// "13:17:54.107123456": rfc3339_ns(...).substr(11) without a formatted print
// per entry (a timeline line each; millions in a big report)
class TimeOfDay {
 public:
  void append(std::string& s, uint64_t ts) {
    const uint64_t secs = ts / 1'000'000'000, ns = ts % 1'000'000'000;
    if (secs != secs_ || hms_.empty()) {
      secs_ = secs;
      hms_ = rfc3339_ns(static_cast<int64_t>(secs * 1'000'000'000)).substr(11, 9);  // "HH:MM:SS."
    }
    s += hms_;
    char digits[9];
    uint64_t v = ns;
    for (int i = 8; i >= 0; --i, v /= 10) digits[i] = static_cast<char>('0' + v % 10);
    s.append(digits, 9);
    s += 'Z';
  }

 private:
  uint64_t secs_ = 0;
  std::string hms_;
};

void timeline_text(const ConnectionReport& c, std::string& s) {
  static thread_local TimeOfDay tod;
  s += "  timeline:\n";
  if (c.timeline.empty()) {
    s += "    (no events recorded for this connection)\n";
    return;
  }
  static thread_local std::string rh, sh;  // kept: no allocation per reset
  rh = escape_for_terminal(c.receiver_host);
  sh = escape_for_terminal(c.sender_host);
  for (const TimelineEntry& t : c.timeline) {
    s += "    ";
    tod.append(s, t.ts_ns);
    s += t.end == 0 ? "  receiver " : "  sender   ";
    s += t.end == 0 ? rh : sh;
    s += "  ";
    s += t.what;
    if (!t.who.empty()) {
      s += "  ";
      s += t.who;
    }
    s += "\n";
  }
}

}  // namespace

void Output::flush() {
  if (buf_.empty()) return;
  if (str_) {
    str_->append(buf_);
  } else if (file_ && std::fwrite(buf_.data(), 1, buf_.size(), file_) != buf_.size()) {
    failed_ = true;
  }
  buf_.clear();
}

Summary summarize(const std::vector<ConnectionReport>& resets) {
  SummaryCounter c;
  for (const ConnectionReport& r : resets) c.add(r);
  return c.summary();
}

void TextReportWriter::begin(const ReportHeader& h) {
  std::string s = "connreset report: " + thousands(h.sources.size()) + " host(s)\n";
  for (const SourceSummary& src : h.sources) {
    s += "  host " + escape_for_terminal(src.label) + " (kernel " + escape_for_terminal(src.kernel) +
         "): " + thousands(src.files) + " file(s)\n";
  }
  out_.put(s);
}

void TextReportWriter::reset(const ConnectionReport& c) {
  std::string& s = scratch_;
  s.clear();
  s += "\n";
  append_text(s, c.x, ClockMap{0});
  if (!c.receiver_host.empty() || !c.sender_host.empty()) {
    s += "  recorded on: receiver ";  // appended piece by piece: no temporary per reset
    s += escape_for_terminal(c.receiver_host.empty() ? "-" : c.receiver_host);
    s += ", sender ";
    s += escape_for_terminal(c.sender_host.empty() ? "-" : c.sender_host);
    s += '\n';
  }
  timeline_text(c, s);
  out_.put(s);
}

void TextReportWriter::finding(const Finding& f) { out_.put("\n" + render_text(f, ClockMap{0})); }

void TextReportWriter::end(const ReportEnd& e) {
  const ReplayOutcome& rep = e.replay;
  std::string s = "\nconnreset report: " + thousands(rep.sources.size()) + " host(s), " +
                  thousands(rep.events) + " events";
  if (rep.events) s += ", " + rfc3339_ns(rep.first_wall_ns) + " .. " + rfc3339_ns(rep.last_wall_ns);
  s += "\n";
  for (const SourceSummary& src : rep.sources) {
    s += "  host " + escape_for_terminal(src.label) + " (kernel " + escape_for_terminal(src.kernel) +
         "): " + thousands(src.files) + " file(s), " + thousands(src.events) + " events, " +
         thousands(src.totals.lost) + " lost" + (src.ended_cleanly ? "" : ", recording cut short") + "\n";
  }
  if (rep.files_skipped) s += "  " + thousands(rep.files_skipped) + " file(s) outside --since/--until not read\n";
  for (const std::string& p : e.problems) s += "WARNING: " + escape_for_terminal(p) + "\n";
  s += "\n" + table("RESETS BY CAUSE", e.summary.by_cause);
  s += "\n" + table("RESETS BY PROCESS", e.summary.by_process);
  s += "\n" + table("RESETS BY REMOTE", e.summary.by_remote);
  s += "\nconnreset report: " + thousands(e.stats.resets) + " resets explained, " +
       thousands(e.stats.findings) + " findings, " + thousands(e.stats.lost) +
       " kernel events lost while recording";
  if (e.stats.decode_errors) s += ", " + thousands(e.stats.decode_errors) + " undecodable records";
  if (rep.skipped_bytes) s += ", " + thousands(rep.skipped_bytes) + " corrupt bytes skipped";
  s += "\n";
  out_.put(s);
  out_.flush();
}

std::string render_text_report(const Report& rep) {
  std::string s;
  {
    Output out(&s);
    TextReportWriter w(out);
    w.begin(rep.header);
    for (const ConnectionReport& c : rep.resets) w.reset(c);
    for (const Finding& f : rep.findings) w.finding(f);
    w.end(ReportEnd{rep.stats, rep.replay, rep.problems, rep.summary});
  }
  return s;
}

}  // namespace connreset::report
