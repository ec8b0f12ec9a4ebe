#include "report/summary.h"

#include <algorithm>
#include <cstdio>
#include <map>

#include "common/clock.h"
#include "common/escape.h"
#include "common/names.h"
#include "sinks/text_sink.h"

namespace connreset::report {
namespace {

std::vector<CountRow> sorted(const std::map<std::string, uint64_t>& counts) {
  std::vector<CountRow> rows;
  for (const auto& [k, n] : counts) rows.push_back(CountRow{k, n});
  std::stable_sort(rows.begin(), rows.end(),
                   [](const CountRow& a, const CountRow& b) { return a.count > b.count; });
  return rows;
}

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

std::string timeline_text(const ConnectionReport& c) {
  std::string s = "  timeline:\n";
  if (c.timeline.empty()) return s + "    (no events recorded for this connection)\n";
  for (const TimelineEntry& t : c.timeline) {
    const std::string& host = t.end == 0 ? c.receiver_host : c.sender_host;
    s += "    " + rfc3339_ns(static_cast<int64_t>(t.ts_ns)).substr(11) + "  " +
         (t.end == 0 ? "receiver" : "sender  ") + " " + escape_for_terminal(host) + "  " + t.what;
    if (!t.who.empty()) s += "  " + t.who;
    s += "\n";
  }
  return s;
}

}  // namespace

Summary summarize(const std::vector<ConnectionReport>& resets) {
  std::map<std::string, uint64_t> cause, process, remote;
  for (const ConnectionReport& c : resets) {
    const ResetCase& r = c.x.reset;
    ++cause[c.x.cause];
    // by name, not pid: a service's many workers are one row
    if (r.receiver) ++process[r.receiver->comm + " (receiver)"];
    if (r.sender) ++process[r.sender->comm + " (sender)"];
    ++remote[r.remote.str()];
  }
  return Summary{sorted(cause), sorted(process), sorted(remote)};
}

std::string render_text_report(const Report& rep) {
  std::string s = "connreset report: " + thousands(rep.replay.sources.size()) + " host(s), " +
                  thousands(rep.replay.events) + " events";
  if (rep.replay.events) {
    s += ", " + rfc3339_ns(rep.replay.first_wall_ns) + " .. " + rfc3339_ns(rep.replay.last_wall_ns);
  }
  s += "\n";
  for (const SourceSummary& src : rep.replay.sources) {
    s += "  host " + escape_for_terminal(src.label) + " (kernel " + escape_for_terminal(src.kernel) +
         "): " + thousands(src.files) + " file(s), " + thousands(src.events) + " events, " +
         thousands(src.totals.lost) + " lost" + (src.ended_cleanly ? "" : ", recording cut short") +
         "\n";
  }
  for (const std::string& p : rep.problems) s += "WARNING: " + escape_for_terminal(p) + "\n";
  const Summary sum = summarize(rep.resets);
  s += "\n" + table("RESETS BY CAUSE", sum.by_cause);
  s += "\n" + table("RESETS BY PROCESS", sum.by_process);
  s += "\n" + table("RESETS BY REMOTE", sum.by_remote);
  const ClockMap wall{0};
  for (const ConnectionReport& c : rep.resets) {
    s += "\n" + render_text(c.x, wall);
    if (!c.receiver_host.empty() || !c.sender_host.empty()) {
      s += "  recorded on: receiver " + escape_for_terminal(c.receiver_host.empty() ? "-" : c.receiver_host) +
           ", sender " + escape_for_terminal(c.sender_host.empty() ? "-" : c.sender_host) + "\n";
    }
    s += timeline_text(c);
  }
  for (const Finding& f : rep.findings) s += "\n" + render_text(f, wall);
  s += "\nconnreset report: " + thousands(rep.resets.size()) + " resets explained, " +
       thousands(rep.findings.size()) + " findings, " +
       thousands(rep.stats.lost) + " kernel events lost while recording\n";
  return s;
}

}  // namespace connreset::report
