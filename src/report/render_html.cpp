#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "common/clock.h"
#include "common/names.h"
#include "explain/explainer.h"
#include "report/render.h"
#include "report/summary.h"
#include "sinks/text_sink.h"

namespace connreset::report {
namespace {

constexpr const char* kStyle = R"(
body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#222;max-width:1200px;overflow-wrap:anywhere}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em}
table{border-collapse:collapse;margin:.5em 2em .5em 0;display:inline-table;vertical-align:top}
td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}td.n{text-align:right}
.reset{border:1px solid #ddd;border-left:4px solid #c33;padding:.5em 1em;margin:1em 0}
.cause{font-weight:bold;color:#c33}.warn{color:#a60}.muted{color:#777}
pre{white-space:pre-wrap;margin:.3em 0}
svg text{font:11px monospace}
svg.timeline{max-width:100%;height:auto;display:block}
td{overflow-wrap:anywhere}.gap{color:#777;font-style:italic;margin:1em 0}
)";

// kind -> marker colour in the timeline picture
const char* colour(TimelineEntry::Kind k) {
  switch (k) {
    case TimelineEntry::Kind::Connect: return "#2a6fdb";
    case TimelineEntry::Kind::Data: return "#2a9d4b";
    case TimelineEntry::Kind::Fin: return "#e08a00";
    case TimelineEntry::Kind::Rst: return "#d22";
    case TimelineEntry::Kind::RecvResult: return "#8e3fbf";
    case TimelineEntry::Kind::Close: return "#555";
    case TimelineEntry::Kind::State: return "#999";
  }
  return "#999";
}

std::string count_table(const std::string& title, const std::vector<CountRow>& rows) {
  constexpr size_t kRows = 50;
  std::string s = "<table><tr><th>" + html_escape(title) + "</th><th>resets</th></tr>";
  if (rows.empty()) s += "<tr><td class=muted>none</td><td></td></tr>";
  for (size_t i = 0; i < rows.size() && i < kRows; ++i) {
    s += "<tr><td>" + html_escape(rows[i].key) + "</td><td class=n>" + thousands(rows[i].count) + "</td></tr>";
  }
  if (rows.size() > kRows) s += "<tr><td class=muted>" + thousands(rows.size() - kRows) + " more</td><td></td></tr>";
  return s + "</table>\n";
}

std::string time_of_day(uint64_t ts) { return rfc3339_ns(static_cast<int64_t>(ts)).substr(11, 15); }

// "+1.001 s", "+12.5 ms", "+250 us": the time a cut in the scale stands for
std::string gap_label(uint64_t ns) {
  char buf[32];
  if (ns >= 1'000'000'000) {
    std::snprintf(buf, sizeof(buf), "+%.3f s", static_cast<double>(ns) / 1e9);
  } else if (ns >= 1'000'000) {
    std::snprintf(buf, sizeof(buf), "+%.1f ms", static_cast<double>(ns) / 1e6);
  } else {
    std::snprintf(buf, sizeof(buf), "+%.0f us", static_cast<double>(ns) / 1e3);
  }
  return buf;
}

// x of each entry (timeline sorted by time): to scale, except that a gap much
// longer than the others (20x the median step and over 1 ms) is cut to a fixed
// width and labelled with its length, so a burst after a long idle stays readable.
struct Scale {
  std::vector<double> x;
  std::vector<std::pair<double, std::string>> cuts;  // (x of the cut's middle, label)
};
Scale place(const std::vector<TimelineEntry>& tl, double left, double width) {
  constexpr double kCut = 56;
  Scale sc;
  const size_t n = tl.size();
  sc.x.assign(n, left + width / 2);
  if (n < 2) return sc;
  std::vector<uint64_t> d(n - 1);
  std::vector<uint64_t> positive;
  for (size_t i = 0; i + 1 < n; ++i) {
    d[i] = tl[i + 1].ts_ns - tl[i].ts_ns;
    if (d[i] > 0) positive.push_back(d[i]);
  }
  if (positive.empty()) return sc;
  std::nth_element(positive.begin(), positive.begin() + static_cast<std::ptrdiff_t>(positive.size() / 2), positive.end());
  const uint64_t median = positive[positive.size() / 2];
  // the largest gaps first, at most as many as take half the width
  std::vector<size_t> order(d.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return d[a] > d[b]; });
  std::vector<bool> cut(d.size(), false);
  size_t cuts = 0;
  for (size_t i : order) {
    if (static_cast<double>(cuts) * kCut >= width / 2) break;
    if (d[i] > 20 * median && d[i] > 1'000'000) {
      cut[i] = true;
      ++cuts;
    }
  }
  double linear = 0;
  for (size_t i = 0; i < d.size(); ++i) if (!cut[i]) linear += static_cast<double>(d[i]);
  const double room = width - static_cast<double>(cuts) * kCut;
  const double per_ns = linear > 0 ? room / linear : 0;
  double x = linear > 0 ? left : left + (room / 2);
  sc.x[0] = x;
  for (size_t i = 0; i < d.size(); ++i) {
    if (cut[i]) {
      sc.cuts.emplace_back(x + kCut / 2, gap_label(d[i]));
      x += kCut;
    } else {
      x += static_cast<double>(d[i]) * per_ns;
    }
    sc.x[i + 1] = x;
  }
  return sc;
}

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f", v);
  return buf;
}

// Two lanes (the end that received the RST on top, the end that sent it
// below), time left to right. The SVG scales down with the window (viewBox,
// max-width 100%), so the page never scrolls sideways.
std::string timeline_svg(const ConnectionReport& c) {
  const auto& tl = c.timeline;
  if (tl.empty()) return "<p class=muted>no events recorded for this connection</p>";
  constexpr double kW = 1000, kLeft = 150, kRight = 75, kLaneY[2] = {50, 140}, kH = 195;
  const Scale sc = place(tl, kLeft, kW - kLeft - kRight);
  std::string s = "<svg class=timeline viewBox='0 0 1000 195' width='1000' height='195' role='img'>";
  const std::string lane_name[2] = {"receiver " + c.receiver_host, "sender " + c.sender_host};
  for (int end = 0; end < 2; ++end) {
    const std::string y = num(kLaneY[end]);
    s += "<line x1='" + num(kLeft - 10) + "' y1='" + y + "' x2='" + num(kW - 10) + "' y2='" + y +
         "' stroke='#bbb'/>";
    s += "<text x='4' y='" + num(kLaneY[end] + 4) + "'>" + html_escape(lane_name[end].substr(0, 20)) + "</text>";
  }
  for (const auto& [x, label] : sc.cuts) {
    s += "<g class=cut><line x1='" + num(x) + "' y1='20' x2='" + num(x) + "' y2='" + num(kLaneY[1] + 20) +
         "' stroke='#999' stroke-dasharray='2 4'/><text x='" + num(x - 24) + "' y='" + num(kH - 8) + "'>" +
         html_escape(label) + "</text></g>";
  }
  // the RST's two markers, joined by a line from the sender's lane to the receiver's
  std::optional<size_t> sent, received;
  for (size_t i = 0; i < tl.size(); ++i) {
    if (tl[i].kind != TimelineEntry::Kind::Rst) continue;
    if (tl[i].end == 1 && !sent) sent = i;
    if (tl[i].end == 0 && !received) received = i;
  }
  if (sent || received) {
    const double x1 = sc.x[sent ? *sent : *received], x2 = sc.x[received ? *received : *sent];
    s += "<line class=rst x1='" + num(x1) + "' y1='" + num(kLaneY[1] - 8) + "' x2='" + num(x2) + "' y2='" +
         num(kLaneY[0] + 8) + "' stroke='#d22' stroke-width='2'" +
         (sent && received ? "" : " stroke-dasharray='4 3'") + "/>";
  }
  double last_label[2] = {-1e9, -1e9};
  for (size_t i = 0; i < tl.size(); ++i) {
    const TimelineEntry& t = tl[i];
    const double x = sc.x[i], y = kLaneY[t.end];
    s += "<g><title>" + html_escape(time_of_day(t.ts_ns) + " " + t.what + " " + t.who) + "</title>";
    s += "<circle class=marker data-ts='" + std::to_string(t.ts_ns) + "' data-end='" + std::to_string(t.end) +
         "' cx='" + num(x) + "' cy='" + num(y) + "' r='6' fill='" + colour(t.kind) + "'/>";
    if (x - last_label[t.end] >= 110) {  // labels only where they do not overlap
      last_label[t.end] = x;
      const double label_y = t.end == 0 ? y - 14 : y + 22;
      s += "<text x='" + num(x - 40) + "' y='" + num(label_y) + "'>" + html_escape(kind_name(t.kind)) + " " +
           html_escape(time_of_day(t.ts_ns).substr(6)) + "</text>";
    }
    s += "</g>";
  }
  return s + "</svg>";
}

std::string timeline_list(const ConnectionReport& c) {
  std::string s = "<details><summary>timeline as text</summary><pre>";
  for (const TimelineEntry& t : c.timeline) {
    s += html_escape(time_of_day(t.ts_ns) + "  " + (t.end == 0 ? "receiver" : "sender  ") + "  " +
                     t.what + (t.who.empty() ? "" : "  " + t.who)) + "\n";
  }
  return s + "</pre></details>";
}

std::string reset_block(const ConnectionReport& c) {
  const Explanation& x = c.x;
  const ResetCase& r = x.reset;
  std::string s = "<div class=reset><div><span class=cause>" + html_escape(std::string(cause_id(x.cause))) + "</span> " +
                  html_escape(r.local.str() + " <- " + r.remote.str()) + " at " +
                  html_escape(rfc3339_ns(static_cast<int64_t>(r.ts_ns)));
  if (!x.rst_reason.empty()) s += " reason=" + html_escape(x.rst_reason);
  s += "</div><ul>";
  if (r.receiver) s += "<li>receiver: " + html_escape(r.receiver->comm) + "[" + std::to_string(r.receiver->pid) + "] on " + html_escape(c.receiver_host) + "</li>";
  if (r.sender) s += "<li>sender: " + html_escape(r.sender->comm) + "[" + std::to_string(r.sender->pid) + "] on " + html_escape(c.sender_host) + "</li>";
  for (const Observation& o : r.observed) {
    s += "<li>" + html_escape(o.task.comm) + "[" + std::to_string(o.task.pid) + "] " + html_escape(o.call_name()) +
         "() -&gt; " + html_escape(o.result()) + (o.count > 1 ? " (" + thousands(o.count) + " calls)" : "") + "</li>";
  }
  s += "<li>because " + html_escape(x.because) + "</li>";
  s += "<li>kernel: " + html_escape(x.kernel_path) + "</li>";
  s += "<li>fix: " + html_escape(x.advice) + "</li></ul>";
  return s + timeline_svg(c) + timeline_list(c) + "</div>\n";
}

// The page shows at most this many timeline entries per connection.
constexpr size_t kHtmlTimeline = 60;
constexpr size_t kHtmlRows = 50;      // per summary table
constexpr size_t kHtmlProblems = 50;  // warning lines
constexpr size_t kHtmlFindings = 50;

ConnectionReport trimmed(const ConnectionReport& c) {
  ConnectionReport t = c;
  if (t.timeline.size() > kHtmlTimeline) t.timeline.resize(kHtmlTimeline);
  return t;
}

}  // namespace

std::string html_escape(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (unsigned char ch : raw) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default:
        if (ch < 0x20 || ch >= 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\x%02x", ch);  // visible, never markup
          out += buf;
        } else {
          out += static_cast<char>(ch);
        }
    }
  }
  return out;
}

ConnectionReport* HtmlReportWriter::sample_slot(const ConnectionReport& c) {
  const std::string_view id = cause_id(c.x.cause);
  auto it = causes_.find(id);
  if (it == causes_.end()) it = causes_.emplace(std::string(id), CauseSamples{}).first;
  CauseSamples& cs = it->second;
  ++cs.count;
  if (cs.first.size() < per_cause_) {
    cs.first.push_back(trimmed(c));
    return nullptr;
  }
  if (per_cause_ == 0) return nullptr;
  if (cs.recent.size() < per_cause_) {
    cs.recent.push_back(trimmed(c));
    return nullptr;
  }
  // a ring: the oldest sample is overwritten in place (timelines are trimmed in end())
  ConnectionReport& slot = cs.recent[cs.recent_next];
  cs.recent_next = (cs.recent_next + 1) % per_cause_;
  return &slot;
}

void HtmlReportWriter::reset(const ConnectionReport& c) {
  if (ConnectionReport* slot = sample_slot(c)) *slot = c;  // its strings keep their memory
}

// Every reset of a busy cause is, for a moment, its most recent one: a copy of each
// (explanation, events, timeline) was a quarter of an HTML report's time. The slot's
// old contents go back to the caller, whose storage they become.
void HtmlReportWriter::take_reset(ConnectionReport& c) {
  if (ConnectionReport* slot = sample_slot(c)) std::swap(*slot, c);
}

void HtmlReportWriter::finding(const Finding& f) {
  if (findings_count_++ < kHtmlFindings) findings_.push_back(f);
}

void HtmlReportWriter::end(const ReportEnd& e) {
  const ReplayOutcome& rep = e.replay;
  std::string s = "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
                  "<meta name=viewport content='width=device-width'>"
                  "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; style-src 'unsafe-inline'\">"
                  "<title>connreset report</title><style>";
  s += kStyle;
  s += "</style></head><body><h1>connreset report</h1>\n<p>";
  s += thousands(rep.events) + " events from " + thousands(rep.sources.size()) + " host(s)";
  if (rep.events) {
    s += ", " + html_escape(rfc3339_ns(rep.first_wall_ns)) + " .. " + html_escape(rfc3339_ns(rep.last_wall_ns));
  }
  s += "; " + thousands(e.stats.resets) + " resets explained.</p>\n<ul>";
  for (const SourceSummary& src : rep.sources) {
    s += "<li>" + html_escape(src.label) + " (kernel " + html_escape(src.kernel) + "): " +
         thousands(src.files) + " file(s), " + thousands(src.events) + " events, " +
         thousands(src.totals.lost) + " lost" + (src.ended_cleanly ? "" : ", recording cut short") + "</li>";
  }
  s += "</ul>\n";
  for (size_t i = 0; i < e.problems.size() && i < kHtmlProblems; ++i) {
    s += "<p class=warn>warning: " + html_escape(e.problems[i]) + "</p>\n";
  }
  if (e.problems.size() > kHtmlProblems) {
    s += "<p class=warn>... " + thousands(e.problems.size() - kHtmlProblems) + " more warnings (see stderr)</p>\n";
  }
  s += "<h2>Summary</h2>\n" + count_table("cause", e.summary.by_cause) +
       count_table("process", e.summary.by_process) + count_table("remote", e.summary.by_remote);
  s += "<h2>Resets</h2>\n<p class=muted>Per cause, the first and the most recent " + std::to_string(per_cause_) +
       " resets, in time order. Timeline markers: <span style='color:#2a6fdb'>connect</span>, "
       "<span style='color:#2a9d4b'>data</span>, <span style='color:#e08a00'>FIN</span>, "
       "<span style='color:#d22'>RST</span>, <span style='color:#8e3fbf'>recv/send result</span>, "
       "<span style='color:#555'>close</span>; times to scale, a long gap is cut and labelled with its "
       "length; hover a marker for details.</p>\n";
  for (const CountRow& row : e.summary.by_cause) {
    auto it = causes_.find(row.key);
    if (it == causes_.end()) continue;
    CauseSamples& cs = it->second;
    auto by_time = [](const ConnectionReport& a, const ConnectionReport& b) { return a.x.reset.ts_ns < b.x.reset.ts_ns; };
    std::stable_sort(cs.first.begin(), cs.first.end(), by_time);
    // the ring in arrival order again (oldest first), so that ties keep it as they always did
    std::rotate(cs.recent.begin(), cs.recent.begin() + static_cast<std::ptrdiff_t>(cs.recent_next), cs.recent.end());
    cs.recent_next = 0;
    std::stable_sort(cs.recent.begin(), cs.recent.end(), by_time);
    for (ConnectionReport& c : cs.recent) {
      if (c.timeline.size() > kHtmlTimeline) c.timeline.resize(kHtmlTimeline);
    }
    s += "<h3 id='cause-" + html_escape(row.key) + "'>" + html_escape(row.key) + ": " + thousands(cs.count) +
         " reset(s)</h3>\n";
    for (const ConnectionReport& c : cs.first) s += reset_block(c);
    const uint64_t between = cs.count - cs.first.size() - cs.recent.size();
    if (between) {
      s += "<p class=gap>... " + thousands(between) + " more " + html_escape(row.key) +
           " resets, not shown (all are in the text and JSON reports) ...</p>\n";
    }
    for (const ConnectionReport& c : cs.recent) s += reset_block(c);
  }
  if (findings_count_) s += "<h2>Findings</h2>\n";
  for (const Finding& f : findings_) {
    s += "<div class=reset><pre>" + html_escape(render_text(f, ClockMap{0})) + "</pre></div>\n";
  }
  if (findings_count_ > findings_.size()) {
    s += "<p class=gap>... " + thousands(findings_count_ - findings_.size()) + " more findings, not shown</p>\n";
  }
  page_ = s + "</body></html>\n";
}

std::string render_html_report(const Report& rep, size_t per_cause) {
  HtmlReportWriter w(per_cause);
  w.begin(rep.header);
  for (const ConnectionReport& c : rep.resets) w.reset(c);
  for (const Finding& f : rep.findings) w.finding(f);
  w.end(ReportEnd{rep.stats, rep.replay, rep.problems, rep.summary});
  return w.page();
}

bool write_private_file(const std::string& path, const std::string& text, std::string* error) {
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  std::string tmp = dir + "/.connreset-report-XXXXXX";
  // mkstemp: a new file (O_EXCL), mode 0600, never through an existing name or symlink
  const int fd = mkstemp(tmp.data());
  if (fd < 0) {
    *error = path + ": cannot create a temporary file in " + dir + ": " + std::strerror(errno);
    return false;
  }
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      *error = path + ": " + std::strerror(n < 0 ? errno : ENOSPC);
      close(fd);
      unlink(tmp.c_str());
      return false;
    }
    done += static_cast<size_t>(n);
  }
  if (fchmod(fd, 0600) != 0 || close(fd) != 0) {
    *error = path + ": " + std::strerror(errno);
    unlink(tmp.c_str());
    return false;
  }
  // rename replaces a symlink at path itself, it never writes through it
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    *error = path + ": " + std::strerror(errno);
    unlink(tmp.c_str());
    return false;
  }
  return true;
}

}  // namespace connreset::report
