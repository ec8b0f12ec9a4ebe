#include "report/report_model.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <map>
#include <regex>

#include "explain/explainer.h"

namespace connreset::report {
namespace {

// Keeps what the pipeline reports for the report to narrow and render.
class Collector : public Sink {
 public:
  void reset(const Explanation& x) override { resets.push_back(x); }
  void finding(const Finding& f) override { findings.push_back(f); }
  void warning(const std::string& text) override { warnings.push_back(text); }
  void end(const RunStats& st) override { stats = st; }
  std::vector<Explanation> resets;
  std::vector<Finding> findings;
  std::vector<std::string> warnings;
  RunStats stats;
};

}  // namespace

bool ReportFilter::matches(const Explanation& x) const {
  const auto t = static_cast<int64_t>(x.reset.ts_ns);
  if (since_wall_ns && t < *since_wall_ns) return false;
  if (until_wall_ns && t > *until_wall_ns) return false;
  if (!causes.empty() && std::find(causes.begin(), causes.end(), x.cause) == causes.end()) return false;
  return true;
}

std::optional<int64_t> parse_time(const std::string& text) {
  static const std::regex unix_re(R"(^(\d{1,12})(\.(\d{1,9}))?$)");
  static const std::regex rfc_re(
      R"(^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(\.(\d{1,9}))?Z$)");
  std::smatch m;
  auto frac_ns = [](const std::string& digits) -> int64_t {
    if (digits.empty()) return 0;
    std::string d = digits;
    d.resize(9, '0');
    return std::stoll(d);
  };
  if (std::regex_match(text, m, unix_re)) {
    return std::stoll(m[1].str()) * 1'000'000'000 + frac_ns(m[3].str());
  }
  if (std::regex_match(text, m, rfc_re)) {
    tm t{};
    t.tm_year = std::stoi(m[1].str()) - 1900;
    t.tm_mon = std::stoi(m[2].str()) - 1;
    t.tm_mday = std::stoi(m[3].str());
    t.tm_hour = std::stoi(m[4].str());
    t.tm_min = std::stoi(m[5].str());
    t.tm_sec = std::stoi(m[6].str());
    if (t.tm_mon > 11 || t.tm_mday < 1 || t.tm_mday > 31 || t.tm_hour > 23 || t.tm_min > 59 ||
        t.tm_sec > 60) {
      return std::nullopt;
    }
    return static_cast<int64_t>(timegm(&t)) * 1'000'000'000 + frac_ns(m[8].str());
  }
  return std::nullopt;
}

Report build_report(const JournalSet& set, const ReportOptions& options) {
  Report rep;
  rep.info = report_run_info(set);
  Collector collector;
  {
    // between hosts an RST's two ends are up to the skew apart: wait that long too
    CorrelatorOptions co = options.correlator;
    co.settle_ns += co.pair_window_ns;
    Pipeline pipeline(co, options.filter, {&collector});
    pipeline.begin(rep.info);
    rep.replay = replay(set, &pipeline);
    pipeline.finish();
  }
  rep.stats = collector.stats;
  rep.problems = set.problems;
  rep.problems.insert(rep.problems.end(), rep.replay.problems.begin(), rep.replay.problems.end());
  rep.problems.insert(rep.problems.end(), collector.warnings.begin(), collector.warnings.end());

  // which connection (report-wide cookie) belongs to which reset, and as which end
  std::map<uint64_t, std::vector<std::pair<size_t, int>>> wanted;
  for (const Explanation& x : collector.resets) {
    if (!options.narrow.matches(x)) continue;
    ConnectionReport c;
    c.x = x;
    const size_t i = rep.resets.size();
    const auto host_of = [&](uint64_t cookie) -> std::string {
      auto it = rep.replay.cookie_source.find(cookie);
      return it == rep.replay.cookie_source.end() ? "" : rep.replay.sources[it->second].label;
    };
    if (x.reset.received) {
      c.receiver_host = host_of(x.reset.received->cookie);
      if (x.reset.received->cookie) wanted[x.reset.received->cookie].emplace_back(i, 0);
    }
    if (x.reset.sent) {
      c.sender_host = host_of(x.reset.sent->cookie);
      if (x.reset.sent->cookie) {
        wanted[x.reset.sent->cookie].emplace_back(i, 1);
      } else {
        c.timeline.push_back(timeline_entry(*x.reset.sent, 1));  // a no-socket RST: itself only
      }
    }
    rep.resets.push_back(std::move(c));
  }
  rep.stats.resets = rep.resets.size();
  for (const Finding& f : collector.findings) {
    const auto t = static_cast<int64_t>(f.first_ns);
    if (options.narrow.since_wall_ns && t < *options.narrow.since_wall_ns) continue;
    if (options.narrow.until_wall_ns && t > *options.narrow.until_wall_ns) continue;
    if (!options.narrow.causes.empty()) continue;  // --cause selects resets only
    rep.findings.push_back(f);
  }
  rep.stats.findings = rep.findings.size();
  if (!wanted.empty()) {
    replay(set, nullptr, [&](const ReplayedEvent& ev) {
      auto it = wanted.find(ev.event.cookie);
      if (it == wanted.end()) return;
      for (const auto& [index, end] : it->second) {
        auto& tl = rep.resets[index].timeline;
        if (tl.size() < options.max_timeline) tl.push_back(timeline_entry(ev.event, end));
      }
    });
  }
  for (ConnectionReport& c : rep.resets) {
    std::stable_sort(c.timeline.begin(), c.timeline.end(),
                     [](const TimelineEntry& a, const TimelineEntry& b) { return a.ts_ns < b.ts_ns; });
  }
  return rep;
}

}  // namespace connreset::report
