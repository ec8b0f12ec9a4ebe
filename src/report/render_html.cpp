#include <algorithm>
#include <cstdio>

#include "common/clock.h"
#include "common/names.h"
#include "explain/explainer.h"
#include "report/render.h"
#include "report/summary.h"
#include "sinks/text_sink.h"

namespace connreset::report {
namespace {

constexpr const char* kStyle = R"(
body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#222;max-width:1200px}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em}
table{border-collapse:collapse;margin:.5em 2em .5em 0;display:inline-table;vertical-align:top}
td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}td.n{text-align:right}
.reset{border:1px solid #ddd;border-left:4px solid #c33;padding:.5em 1em;margin:1em 0}
.cause{font-weight:bold;color:#c33}.warn{color:#a60}.muted{color:#777}
pre{white-space:pre-wrap;margin:.3em 0}
svg text{font:11px monospace}
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
  std::string s = "<table><tr><th>" + html_escape(title) + "</th><th>resets</th></tr>";
  if (rows.empty()) s += "<tr><td class=muted>none</td><td></td></tr>";
  for (const CountRow& r : rows) {
    s += "<tr><td>" + html_escape(r.key) + "</td><td class=n>" + thousands(r.count) + "</td></tr>";
  }
  return s + "</table>\n";
}

std::string time_of_day(uint64_t ts) { return rfc3339_ns(static_cast<int64_t>(ts)).substr(11, 15); }

// Two lanes (the end that received the RST on top, the end that sent it below),
// events left to right in time order, spaced evenly so bursts stay readable.
std::string timeline_svg(const ConnectionReport& c) {
  const auto& tl = c.timeline;
  if (tl.empty()) return "<p class=muted>no events recorded for this connection</p>";
  constexpr int kLeft = 150, kStep = 120, kLaneY[2] = {50, 150};
  const int width = kLeft + static_cast<int>(tl.size()) * kStep + 40;
  std::string s = "<svg width='" + std::to_string(width) +
                  "' height='200' role='img'>";
  const std::string lane_name[2] = {"receiver " + c.receiver_host, "sender " + c.sender_host};
  for (int end = 0; end < 2; ++end) {
    const std::string y = std::to_string(kLaneY[end]);
    s += "<line x1='" + std::to_string(kLeft - 10) + "' y1='" + y + "' x2='" + std::to_string(width - 20) +
         "' y2='" + y + "' stroke='#bbb'/>";
    s += "<text x='4' y='" + std::to_string(kLaneY[end] + 4) + "'>" + html_escape(lane_name[end]) + "</text>";
  }
  int x = kLeft;
  for (const TimelineEntry& t : tl) {
    const int y = kLaneY[t.end];
    const std::string cx = std::to_string(x), cy = std::to_string(y);
    s += "<g><title>" + html_escape(time_of_day(t.ts_ns) + " " + t.what + " " + t.who) + "</title>";
    s += "<circle cx='" + cx + "' cy='" + cy + "' r='7' fill='" + colour(t.kind) + "'/>";
    if (t.kind == TimelineEntry::Kind::Rst && t.end == 1) {
      // the RST travels from the sender's lane to the receiver's
      s += "<line x1='" + cx + "' y1='" + std::to_string(kLaneY[1] - 8) + "' x2='" + cx + "' y2='" +
           std::to_string(kLaneY[0] + 10) + "' stroke='#d22' stroke-dasharray='4 3'/>";
    }
    const int label_y = t.end == 0 ? y - 14 : y + 22;
    s += "<text x='" + std::to_string(x - 50) + "' y='" + std::to_string(label_y) + "'>" +
         html_escape(kind_name(t.kind)) + " " + html_escape(time_of_day(t.ts_ns).substr(6)) + "</text>";
    s += "</g>";
    x += kStep;
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
  std::string s = "<div class=reset><div><span class=cause>" + html_escape(x.cause) + "</span> " +
                  html_escape(r.local.str() + " <- " + r.remote.str()) + " at " +
                  html_escape(rfc3339_ns(static_cast<int64_t>(r.ts_ns)));
  if (!x.rst_reason.empty()) s += " reason=" + html_escape(x.rst_reason);
  s += "</div><ul>";
  if (r.receiver) s += "<li>receiver: " + html_escape(r.receiver->comm) + "[" + std::to_string(r.receiver->pid) + "] on " + html_escape(c.receiver_host) + "</li>";
  if (r.sender) s += "<li>sender: " + html_escape(r.sender->comm) + "[" + std::to_string(r.sender->pid) + "] on " + html_escape(c.sender_host) + "</li>";
  for (const Observation& o : r.observed) {
    s += "<li>" + html_escape(o.task.comm) + "[" + std::to_string(o.task.pid) + "] " + html_escape(o.call) +
         "() -&gt; " + html_escape(o.result) + (o.count > 1 ? " (" + thousands(o.count) + " calls)" : "") + "</li>";
  }
  s += "<li>because " + html_escape(x.because) + "</li>";
  s += "<li>kernel: " + html_escape(x.kernel_path) + "</li>";
  s += "<li>fix: " + html_escape(x.advice) + "</li></ul>";
  return s + timeline_svg(c) + timeline_list(c) + "</div>\n";
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

std::string render_html_report(const Report& rep) {
  std::string s = "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
                  "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; style-src 'unsafe-inline'\">"
                  "<title>connreset report</title><style>";
  s += kStyle;
  s += "</style></head><body><h1>connreset report</h1>\n<p>";
  s += thousands(rep.replay.events) + " events from " + thousands(rep.replay.sources.size()) + " host(s)";
  if (rep.replay.events) {
    s += ", " + html_escape(rfc3339_ns(rep.replay.first_wall_ns)) + " .. " +
         html_escape(rfc3339_ns(rep.replay.last_wall_ns));
  }
  s += "; " + thousands(rep.resets.size()) + " resets explained.</p>\n<ul>";
  for (const SourceSummary& src : rep.replay.sources) {
    s += "<li>" + html_escape(src.label) + " (kernel " + html_escape(src.kernel) + "): " +
         thousands(src.files) + " file(s), " + thousands(src.events) + " events, " +
         thousands(src.totals.lost) + " lost" + (src.ended_cleanly ? "" : ", recording cut short") + "</li>";
  }
  s += "</ul>\n";
  for (const std::string& p : rep.problems) s += "<p class=warn>warning: " + html_escape(p) + "</p>\n";
  const Summary sum = summarize(rep.resets);
  s += "<h2>Summary</h2>\n" + count_table("cause", sum.by_cause) + count_table("process", sum.by_process) +
       count_table("remote", sum.by_remote);
  s += "<h2>Resets</h2>\n<p class=muted>Timeline markers: <span style='color:#2a6fdb'>connect</span>, "
       "<span style='color:#2a9d4b'>data</span>, <span style='color:#e08a00'>FIN</span>, "
       "<span style='color:#d22'>RST</span>, <span style='color:#8e3fbf'>recv/send result</span>, "
       "<span style='color:#555'>close</span>; hover a marker for details.</p>\n";
  for (const ConnectionReport& c : rep.resets) s += reset_block(c);
  if (!rep.findings.empty()) s += "<h2>Findings</h2>\n";
  for (const Finding& f : rep.findings) {
    s += "<div class=reset><pre>" + html_escape(render_text(f, ClockMap{0})) + "</pre></div>\n";
  }
  return s + "</body></html>\n";
}

}  // namespace connreset::report
