#include "report/report_model.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <regex>

#include "common/clock.h"
#include "explain/explainer.h"
#include "report/timeline_store.h"

namespace connreset::report {
namespace {

constexpr int64_t kNsPerSec = 1'000'000'000;

// Receives the pipeline's output as it settles and turns it into report items.
class StreamSink : public Sink {
 public:
  StreamSink(const ReportOptions& o, ReportWriter& out, const std::vector<SourceSummary>& sources,
             const TimelineStore* store)
      : o_(o), out_(out), sources_(sources), store_(store) {}

  void reset(const Explanation& x) override {
    if (!o_.narrow.matches(x)) return;
    // one report reused from reset to reset: its strings and timeline entries keep their
    // memory, so a reset costs no allocation once they have grown
    ConnectionReport& c = current_;
    c.x = x;
    c.receiver_host.clear();
    c.sender_host.clear();
    const ResetCase& r = x.reset;
    std::vector<Event>& events = events_;
    std::vector<int>& ends = ends_;
    events.clear();
    ends.clear();
    auto gather = [&](uint64_t cookie, int end) {
      if (!store_ || !cookie) return;
      store_->collect(cookie, o_.max_timeline, events);
      ends.resize(events.size(), end);
    };
    if (r.received) {
      c.receiver_host = host_of(r.received->cookie);
      gather(r.received->cookie, 0);
    }
    if (r.sent) {
      c.sender_host = host_of(r.sent->cookie);
      if (r.sent->cookie) {
        gather(r.sent->cookie, 1);
      } else if (store_) {
        events.push_back(*r.sent);  // a no-socket RST: itself only
        ends.push_back(1);
      }
    }
    size_t n = 0;
    if (store_) {
      std::vector<size_t>& order = order_;
      order.resize(events.size());
      for (size_t i = 0; i < order.size(); ++i) order[i] = i;
      std::stable_sort(order.begin(), order.end(),
                       [&](size_t a, size_t b) { return events[a].ts_ns < events[b].ts_ns; });
      if (order.size() > o_.max_timeline) order.resize(o_.max_timeline);
      n = order.size();
      if (c.timeline.size() < n) c.timeline.resize(n);
      for (size_t k = 0; k < n; ++k) timeline_entry(events[order[k]], ends[order[k]], c.timeline[k]);
    }
    // entries past n stay allocated for the next reset; the writers see exactly n
    c.timeline.resize(n);
    ++resets;
    counter.add(c);
    out_.take_reset(c);  // may come back with another report's contents: all overwritten above
  }

  void finding(const Finding& f) override {
    const auto t = static_cast<int64_t>(f.first_ns);
    if (o_.narrow.since_wall_ns && t < *o_.narrow.since_wall_ns) return;
    if (o_.narrow.until_wall_ns && t > *o_.narrow.until_wall_ns) return;
    if (!o_.narrow.causes.empty()) return;  // --cause selects resets only
    ++findings;
    out_.finding(f);
  }
  void warning(const std::string& text) override {
    if (warnings.size() < 100) warnings.push_back(text);
  }
  void end(const RunStats& st) override { stats = st; }

  SummaryCounter counter;
  uint64_t resets = 0, findings = 0;
  std::vector<std::string> warnings;
  RunStats stats;

 private:
  std::string host_of(uint64_t cookie) const {
    const auto s = source_of_cookie(cookie);
    return s && *s < sources_.size() ? sources_[*s].label : "";
  }

  const ReportOptions& o_;
  ReportWriter& out_;
  const std::vector<SourceSummary>& sources_;
  const TimelineStore* store_;
  ConnectionReport current_;
  std::vector<Event> events_;
  std::vector<int> ends_;
  std::vector<size_t> order_;
};

class Collector : public ReportWriter {
 public:
  explicit Collector(Report& rep) : rep_(rep) {}
  void begin(const ReportHeader& h) override { rep_.header = h; }
  void reset(const ConnectionReport& c) override { rep_.resets.push_back(c); }
  void finding(const Finding& f) override { rep_.findings.push_back(f); }
  void end(const ReportEnd& e) override {
    rep_.stats = e.stats;
    rep_.replay = e.replay;
    rep_.problems = e.problems;
    rep_.summary = e.summary;
  }

 private:
  Report& rep_;
};

void bump(std::map<std::string, uint64_t, std::less<>>& m, std::string_view key) {
  auto it = m.find(key);
  if (it != m.end()) {
    ++it->second;
  } else if (m.size() < SummaryCounter::kMaxKeys) {
    m.emplace(std::string(key), 1);
  } else {
    ++m["(other)"];
  }
}

std::vector<CountRow> sorted(const std::map<std::string, uint64_t, std::less<>>& counts) {
  std::vector<CountRow> rows;
  rows.reserve(counts.size());
  for (const auto& [k, n] : counts) rows.push_back(CountRow{k, n});
  std::stable_sort(rows.begin(), rows.end(),
                   [](const CountRow& a, const CountRow& b) { return a.count > b.count; });
  return rows;
}

}  // namespace

// The keys are built in one scratch string (no string per reset once it has grown).
void SummaryCounter::add(const ConnectionReport& c) {
  const ResetCase& r = c.x.reset;
  bump(cause_, cause_id(c.x.cause));
  // by name, not pid: a service's many workers are one row
  if (r.receiver) {
    key_.assign(r.receiver->comm).append(" (receiver)");
    bump(process_, key_);
  }
  if (r.sender) {
    key_.assign(r.sender->comm).append(" (sender)");
    bump(process_, key_);
  }
  key_.clear();
  r.remote.append_str(key_);
  bump(remote_, key_);
}

Summary SummaryCounter::summary() const { return Summary{sorted(cause_), sorted(process_), sorted(remote_)}; }

bool ReportFilter::matches(const Explanation& x) const {
  const auto t = static_cast<int64_t>(x.reset.ts_ns);
  if (since_wall_ns && t < *since_wall_ns) return false;
  if (until_wall_ns && t > *until_wall_ns) return false;
  if (!causes.empty() && std::find(causes.begin(), causes.end(), x.cause) == causes.end()) return false;
  return true;
}

std::optional<int64_t> parse_time(const std::string& text) {
  return parse_time(text, static_cast<int64_t>(ClockMap::now().to_wall_ns(monotonic_now_ns())));
}

std::optional<int64_t> parse_time(const std::string& text, int64_t now_wall_ns) {
  static const std::regex unix_re(R"(^(\d{1,12})(\.(\d{1,9}))?$)");
  static const std::regex rfc_re(
      R"(^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(\.(\d{1,9}))?Z$)");
  static const std::regex rel_re(R"(^(\d{1,9})(s|m|h|d)$)");
  std::smatch m;
  auto frac_ns = [](const std::string& digits) -> int64_t {
    if (digits.empty()) return 0;
    std::string d = digits;
    d.resize(9, '0');
    return std::stoll(d);
  };
  // seconds -> ns without wrapping: beyond INT64_MAX ns (2262-04-11) is no time at all
  auto to_ns = [](int64_t secs, int64_t frac) -> std::optional<int64_t> {
    int64_t ns = 0;
    if (secs < 0 || __builtin_mul_overflow(secs, kNsPerSec, &ns) || __builtin_add_overflow(ns, frac, &ns)) {
      return std::nullopt;
    }
    return ns;
  };
  if (std::regex_match(text, m, unix_re)) return to_ns(std::stoll(m[1].str()), frac_ns(m[3].str()));
  if (std::regex_match(text, m, rel_re)) {
    const int64_t n = std::stoll(m[1].str());
    const char unit = m[2].str()[0];
    const int64_t mult = unit == 's' ? 1 : unit == 'm' ? 60 : unit == 'h' ? 3600 : 86400;
    const auto ago = to_ns(n * mult, 0);  // n < 1e9, mult <= 86400: no overflow
    if (!ago || *ago > now_wall_ns) return std::nullopt;
    return now_wall_ns - *ago;
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
    return to_ns(static_cast<int64_t>(timegm(&t)), frac_ns(m[8].str()));
  }
  return std::nullopt;
}

void stream_report(const JournalSet& set, const ReportOptions& options, ReportWriter& out) {
  ReportHeader header;
  header.info = report_run_info(set);
  for (const Source& s : set.sources) {
    header.sources.push_back(
        SourceSummary{s.label, s.files.empty() ? "" : s.files[0].meta.kernel, s.files.size(), 0, {}, true});
  }
  out.begin(header);

  std::unique_ptr<TimelineStore> store;
  if (out.wants_timelines() && options.timeline_events > 0) {
    store = std::make_unique<TimelineStore>(options.timeline_events);
  }
  StreamSink sink(options, out, header.sources, store.get());
  // between hosts an RST's two ends are up to the skew apart: wait that long too
  CorrelatorOptions co = options.correlator;
  co.settle_ns += co.pair_window_ns;
  ReplayWindow window;
  window.since_wall_ns = options.narrow.since_wall_ns;
  window.until_wall_ns = options.narrow.until_wall_ns;
  // a reset's sockets are known from their earlier events: read a margin before
  // --since (the correlator keeps closed sockets as long), and the settle time after --until
  window.lookback_ns = static_cast<int64_t>(co.closed_grace_ns + co.settle_ns);
  window.lookahead_ns = static_cast<int64_t>(co.settle_ns);
  ReportEnd end;
  {
    Pipeline pipeline(co, options.filter, {&sink});
    pipeline.begin(header.info);
    end.replay = replay(
        set, &pipeline,
        [&](const ReplayedEvent& ev) {
          if (!store) return;
          // a connect() carried by a received RST is its own entry in the timeline,
          if (ev.event.evidence.connect) store->add(connect_record(ev.event));
          // and so is the FIN a close record carries
          if (ev.event.fin.carried) store->add(fin_record(ev.event));
          store->add(ev.event);
        },
        window);
    pipeline.finish();
  }
  end.stats = sink.stats;
  end.stats.resets = sink.resets;
  end.stats.findings = sink.findings;
  end.stats.decode_errors += end.replay.decode_errors;
  end.problems = set.problems;
  end.problems.insert(end.problems.end(), end.replay.problems.begin(), end.replay.problems.end());
  end.problems.insert(end.problems.end(), sink.warnings.begin(), sink.warnings.end());
  end.summary = sink.counter.summary();
  out.end(end);
}

Report build_report(const JournalSet& set, const ReportOptions& options) {
  Report rep;
  Collector c(rep);
  stream_report(set, options, c);
  rep.info = rep.header.info;
  return rep;
}

}  // namespace connreset::report
