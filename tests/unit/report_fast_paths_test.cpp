// report's fast paths (issue #16: >= 1 M journal events/s) against the plain
// forms they replaced: the same bytes, the same timelines.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <ctime>
#include <deque>
#include <map>
#include <random>

#include "common/clock.h"
#include "common/endpoint.h"
#include "report/render.h"
#include "report/timeline.h"
#include "report/timeline_store.h"
#include "unit/event_builder.h"

namespace connreset {
namespace {

using namespace connreset::testing;

std::string rfc3339_reference(int64_t wall_ns) {
  const time_t secs = static_cast<time_t>(wall_ns / 1'000'000'000);
  const long nanos = static_cast<long>(wall_ns % 1'000'000'000);
  tm utc{};
  gmtime_r(&secs, &utc);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", utc.tm_year + 1900, utc.tm_mon + 1,
                utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, nanos);
  return buf;
}

std::string hms_reference(int64_t wall_ns) {
  const time_t secs = static_cast<time_t>(wall_ns / 1'000'000'000);
  const long millis = static_cast<long>((wall_ns % 1'000'000'000) / 1'000'000);
  tm local{};
  localtime_r(&secs, &local);
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%02d:%02d:%02d.%03ld", local.tm_hour, local.tm_min, local.tm_sec, millis);
  return buf;
}

// The per-second cache must never hand out a neighbouring second's text: times going
// forwards, backwards, across midnight, a leap day, before 1970 and near 2262.
TEST(ReportFastPaths, TimesPrintAsPrintfDid) {
  std::vector<int64_t> times = {0, 1, 999'999'999, 1'000'000'000, -1, -999'999'999, -1'000'000'001,
                                1'764'000'000'000'000'000, 1'709'164'799'999'999'999 /* 2024-02-28T23:59:59 */,
                                1'709'164'800'000'000'000, 1'709'251'199'500'000'000, INT64_MAX};
  std::mt19937_64 rng(16);
  for (int i = 0; i < 2000; ++i) {
    const int64_t base = 1'764'000'000'000'000'000 + static_cast<int64_t>(rng() % 5'000'000'000);
    times.push_back(i % 3 == 0 ? base - static_cast<int64_t>(rng() % 3'000'000'000) : base);
  }
  for (int64_t t : times) {
    SCOPED_TRACE(t);
    EXPECT_EQ(rfc3339_ns(t), rfc3339_reference(t));
    EXPECT_EQ(clock_hms_ms(t), hms_reference(t));
    std::string s = "x";
    append_rfc3339_ns(s, t);
    EXPECT_EQ(s, "x" + rfc3339_reference(t));
  }
}

TEST(ReportFastPaths, AddressesPrintAsInetNtopDid) {
  std::mt19937_64 rng(4);
  for (int i = 0; i < 3000; ++i) {
    Endpoint e;
    e.family = i % 3 == 0 ? AF_INET6 : AF_INET;
    for (auto& b : e.addr) b = static_cast<uint8_t>(i % 5 == 0 ? (rng() % 3) * 127 : rng());
    e.port = static_cast<uint16_t>(rng());
    char buf[INET6_ADDRSTRLEN] = {};
    ASSERT_NE(inet_ntop(e.family, e.addr.data(), buf, sizeof(buf)), nullptr);
    EXPECT_EQ(e.address(), buf);
    const std::string port = ":" + std::to_string(e.port);
    EXPECT_EQ(e.str(), e.family == AF_INET6 ? "[" + std::string(buf) + "]" + port : buf + port);
  }
  EXPECT_EQ(Endpoint{}.address(), "");
  EXPECT_EQ(Endpoint{}.str(), "?:0");
}

// The store against the obvious model: per cookie, its events still among the last
// `capacity` of the stream. Many cookies, so the table grows and drops stale ones.
TEST(ReportFastPaths, TimelineStoreKeepsWhatTheLastEventsSay) {
  constexpr size_t kCapacity = 5000;
  report::TimelineStore store(kCapacity);
  std::deque<std::pair<uint64_t, uint64_t>> window;  // (cookie, ts) of the last kCapacity events
  std::mt19937_64 rng(11);
  const TaskRef t = task(7, "worker");
  for (uint64_t i = 1; i <= 60'000; ++i) {
    // mostly new cookies, some returning after a long while (gone from the ring by then)
    const uint64_t cookie = rng() % 4 == 0 ? 1 + rng() % 20'000 : 100'000 + i / 3;
    Event ev = state(i, Conn{cookie, ep(1), ep(2)}, t, tcp::kEstablished, tcp::kClose);
    store.add(ev);
    window.emplace_back(cookie, i);
    if (window.size() > kCapacity) window.pop_front();
    if (i % 997 == 0) {
      for (uint64_t probe : {cookie, 1 + rng() % 20'000, 100'000 + rng() % (i / 3 + 1)}) {
        std::vector<uint64_t> want;
        for (const auto& [c, ts] : window) {
          if (c == probe) want.push_back(ts);
        }
        if (want.size() > 50) want.erase(want.begin(), want.end() - 50);
        std::vector<Event> got;
        store.collect(probe, 50, got);
        std::vector<uint64_t> got_ts;
        for (const Event& e : got) got_ts.push_back(e.ts_ns);
        EXPECT_EQ(got_ts, want) << "cookie " << probe << " at event " << i;
      }
    }
  }
}

// An entry reused from reset to reset reads exactly as a fresh one.
TEST(ReportFastPaths, ReusedTimelineEntriesReadAsFreshOnes) {
  const Conn c{9, ep(80), ep(40000)};
  const TaskRef t = task(42, "srv\x1b[31m");
  std::vector<Event> evs = {
      state(1, c, t, tcp::kClose, tcp::kSynSent),
      state(2, c, t, tcp::kEstablished, tcp::kCloseWait),
      call(3, c, t, Call::Recv, Phase::Data, 64, 3),
      call(4, c, t, Call::Send, Phase::Error, -ECONNRESET, 1),
      call(5, c, t, Call::Recv, Phase::Eof, 0, 900),
      abort_on_close(6, c, t, 1'048'576),
      linger_zero_close(7, c, t),
  };
  Event closing = base(EventType::Close, 8, c, t);
  closing.shutdown = tcp::kShutdownBoth;
  closing.unread = 12;
  closing.task_exiting = true;
  evs.push_back(closing);
  Event rcvd = base(EventType::ResetReceived, 9, c, t);
  rcvd.state = tcp::kEstablished;
  evs.push_back(rcvd);
  report::TimelineEntry reused;
  for (int round = 0; round < 2; ++round) {
    for (size_t i = 0; i < evs.size(); ++i) {
      const size_t k = round ? evs.size() - 1 - i : i;
      report::timeline_entry(evs[k], round, reused);
      const report::TimelineEntry fresh = report::timeline_entry(evs[k], round);
      EXPECT_EQ(reused.what, fresh.what);
      EXPECT_EQ(reused.who, fresh.who);
      EXPECT_EQ(reused.kind, fresh.kind);
      EXPECT_EQ(reused.ts_ns, fresh.ts_ns);
      EXPECT_EQ(reused.end, fresh.end);
      EXPECT_FALSE(fresh.what.empty());
    }
  }
  EXPECT_EQ(report::timeline_entry(evs[2], 0).what, "recv() -> data (0 bytes), 3 calls");
}

// The HTML page's "most recent" samples taken by swap (the report writer's storage
// handed back and overwritten, as the streaming report does) give the page the copies gave.
TEST(ReportFastPaths, HtmlSamplesBySwapAsByCopy) {
  auto make = [](int i, report::ConnectionReport& c) {
    c.x.cause = i % 3 == 0 ? Cause::RemoteUnknown : Cause::LingerZeroClose;
    c.x.reset.ts_ns = 1'764'000'000'000'000'000 + static_cast<uint64_t>(i % 7) * 1'000'000;  // ties too
    c.x.because = "because " + std::to_string(i);
    c.receiver_host = "host-" + std::to_string(i % 2);
    c.sender_host.clear();
    c.timeline.resize(static_cast<size_t>(i % 90));  // some longer than the page shows
    for (size_t k = 0; k < c.timeline.size(); ++k) {
      c.timeline[k].ts_ns = c.x.reset.ts_ns + k;
      c.timeline[k].what = "entry " + std::to_string(i) + "/" + std::to_string(k);
      c.timeline[k].who.clear();
    }
  };
  report::HtmlReportWriter copied(4), swapped(4);
  report::ReportEnd end;
  end.summary.by_cause.push_back({std::string(cause_id(Cause::LingerZeroClose)), 0});
  end.summary.by_cause.push_back({std::string(cause_id(Cause::RemoteUnknown)), 0});
  report::ConnectionReport scratch;  // reused like the stream's report: comes back with old contents
  for (int i = 0; i < 200; ++i) {
    report::ConnectionReport fresh;
    make(i, fresh);
    copied.reset(fresh);
    make(i, scratch);
    swapped.take_reset(scratch);
  }
  copied.end(end);
  swapped.end(end);
  EXPECT_EQ(copied.page(), swapped.page());
  EXPECT_NE(copied.page().find("because 199"), std::string::npos);  // the most recent
  EXPECT_NE(copied.page().find("because 1<"), std::string::npos);   // the first
  EXPECT_EQ(copied.page().find("because 100<"), std::string::npos);  // in between: counted only
  EXPECT_EQ(copied.page().find("entry 89/60"), std::string::npos);   // timelines trimmed
}

}  // namespace
}  // namespace connreset
