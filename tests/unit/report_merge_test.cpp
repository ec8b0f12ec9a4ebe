// Journals from two hosts, replayed together: the reset seen on host A is
// explained by the close recorded on host B.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "report/journal_set.h"
#include "report/render.h"
#include "report/report_model.h"
#include "report/summary.h"
#include "unit/event_builder.h"
#include "unit/journal_test_util.h"

namespace connreset {
namespace {

using namespace connreset::testing;

constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kWallBase = 1'764'000'000 * kSecond;  // 2025-11-24T16:00:00Z

class TwoHosts : public ::testing::Test {
 protected:
  // A (client, 10.0.0.1) and B (server, 10.0.0.2). Both hosts' sockets carry
  // cookie 7: cookies are only unique per host, report must not mix them up.
  const Conn client_on_a{7, ep(40000, 0x0a000001), ep(8080, 0x0a000002), 1111};
  const Conn server_on_b{7, ep(8080, 0x0a000002), ep(40000, 0x0a000001), 2222};
  const TaskRef client = task(500, "curl");
  const TaskRef server = task(900, "api-server");
  TempDir dir;

  // Host A booted 100 s before the reference, B 5000 s before: different
  // monotonic clocks. B's wall clock runs `b_skew_ms` ahead of A's.
  void write_journals(int64_t b_skew_ms) {
    const uint64_t a0 = 100 * kSecond, b0 = 5000 * kSecond;
    const int64_t skew = b_skew_ms * 1'000'000;
    std::vector<Event> a = {
        state(a0 + 1 * kMs, client_on_a, client, tcp::kClose, tcp::kSynSent),
        call(a0 + 2 * kMs, client_on_a, client, Call::Send, Phase::Data, 4096),
        rst_received(a0 + 10 * kMs, client_on_a, task(0, "swapper/0")),
        call(a0 + 11 * kMs, client_on_a, client, Call::Recv, Phase::Error, -ECONNRESET),
    };
    // B's events happen at the same true time; its clock reads skew later
    std::vector<Event> b = {
        call(b0 + 3 * kMs, server_on_b, server, Call::Recv, Phase::Data, 100),
        abort_on_close(b0 + 9 * kMs, server_on_b, server, 3996),
    };
    write_file(dir.file("a.journal"), journal_bytes(test_meta("host-a", kWallBase - static_cast<int64_t>(a0)), a));
    write_file(dir.file("b.journal"),
               journal_bytes(test_meta("host-b", kWallBase - static_cast<int64_t>(b0) + skew), b));
  }

  report::Report build(uint32_t skew_tolerance_ms) {
    report::ReportOptions opt;
    opt.correlator.settle_ns = 100 * kMs;
    opt.correlator.pair_window_ns = skew_tolerance_ms * kMs;
    const auto set = report::open_journals({dir.file("a.journal"), dir.file("b.journal")});
    EXPECT_EQ(set.files_read, 2u);
    EXPECT_EQ(set.sources.size(), 2u);
    return report::build_report(set, opt);
  }
};

TEST_F(TwoHosts, ResetOnA_IsExplainedByTheCloseRecordedOnB) {
  write_journals(/*b_skew_ms=*/300);
  const report::Report rep = build(/*skew_tolerance_ms=*/2000);
  ASSERT_EQ(rep.resets.size(), 1u);
  const report::ConnectionReport& c = rep.resets[0];
  EXPECT_EQ(c.x.cause, "unread_data_at_close");
  EXPECT_EQ(c.receiver_host, "host-a");
  EXPECT_EQ(c.sender_host, "host-b");
  ASSERT_TRUE(c.x.reset.sender);
  EXPECT_EQ(c.x.reset.sender->comm, "api-server");
  ASSERT_TRUE(c.x.reset.receiver);
  EXPECT_EQ(c.x.reset.receiver->comm, "curl");
  ASSERT_TRUE(c.x.unread_bytes);
  EXPECT_EQ(*c.x.unread_bytes, 3996u);
  // both ends' lives, in wall time, A's on end 0 and B's on end 1
  ASSERT_EQ(c.timeline.size(), 6u);
  EXPECT_EQ(c.timeline.front().what.find("connect()"), 0u);
  size_t ends[2] = {0, 0};
  for (const auto& t : c.timeline) ++ends[t.end];
  EXPECT_EQ(ends[0], 4u);
  EXPECT_EQ(ends[1], 2u);
  // timestamps were mapped through each file's clock offset
  EXPECT_GE(c.x.reset.ts_ns, static_cast<uint64_t>(kWallBase));
  EXPECT_LT(c.x.reset.ts_ns, static_cast<uint64_t>(kWallBase + kSecond));
}

TEST_F(TwoHosts, SkewBeyondTheTolerance_LeavesTheEndsUnpaired) {
  write_journals(/*b_skew_ms=*/3000);
  const report::Report rep = build(/*skew_tolerance_ms=*/1000);
  ASSERT_EQ(rep.resets.size(), 2u);  // A's receipt and B's RST, each alone
  for (const auto& c : rep.resets) {
    EXPECT_TRUE(c.sender_host.empty() || c.receiver_host.empty()) << "paired across a 3 s skew";
    if (c.sender_host.empty()) {
      EXPECT_EQ(c.x.cause, "remote_unknown");
    }
  }
}

TEST_F(TwoHosts, SkewWithinAWiderTolerance_PairsAgain) {
  write_journals(/*b_skew_ms=*/3000);
  const report::Report rep = build(/*skew_tolerance_ms=*/5000);
  ASSERT_EQ(rep.resets.size(), 1u);
  EXPECT_EQ(rep.resets[0].sender_host, "host-b");
}

TEST_F(TwoHosts, Filters_CauseTimeAndComm) {
  write_journals(300);
  report::ReportOptions opt;
  opt.correlator.settle_ns = 100 * kMs;
  const auto set = report::open_journals({dir.path()});
  EXPECT_EQ(set.files_read, 0u);  // a directory holds only connreset-*.journal files
  const auto files = report::open_journals({dir.file("a.journal"), dir.file("b.journal")});
  opt.narrow.causes = {"linger_zero_close"};
  EXPECT_TRUE(report::build_report(files, opt).resets.empty());
  opt.narrow.causes = {"unread_data_at_close"};
  EXPECT_EQ(report::build_report(files, opt).resets.size(), 1u);
  opt.narrow.since_wall_ns = kWallBase + kSecond;
  EXPECT_TRUE(report::build_report(files, opt).resets.empty());
  opt.narrow.since_wall_ns.reset();
  opt.filter.comm = "nginx";
  EXPECT_TRUE(report::build_report(files, opt).resets.empty());
  opt.filter.comm = "api-server";
  EXPECT_EQ(report::build_report(files, opt).resets.size(), 1u);
}

TEST_F(TwoHosts, SameFileTwice_IsReadOnce) {
  write_journals(300);
  const auto set = report::open_journals({dir.file("a.journal"), dir.file("a.journal")});
  EXPECT_EQ(set.files_read, 1u);
}

TEST_F(TwoHosts, Renderers_EscapeKernelStringsAndKeepTheJsonObjects) {
  write_journals(300);
  report::ReportOptions opt;
  opt.correlator.settle_ns = 100 * kMs;
  const auto set = report::open_journals({dir.file("a.journal"), dir.file("b.journal")});
  report::Report rep = report::build_report(set, opt);
  ASSERT_EQ(rep.resets.size(), 1u);
  rep.resets[0].x.reset.sender->comm = "<script>\x1b[2J";
  rep.resets[0].sender_host = "b&<b>";
  const std::string html = report::render_html_report(rep);
  EXPECT_EQ(html.find("<script>"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;"), std::string::npos);
  EXPECT_NE(html.find("b&amp;&lt;b&gt;"), std::string::npos);
  EXPECT_NE(html.find("<svg"), std::string::npos);
  for (const char* fetches : {"src=", "<link", "url(", "@import", "<script"}) {
    EXPECT_EQ(html.find(fetches), std::string::npos) << "the page must not need the network: " << fetches;
  }
  const std::string text = report::render_text_report(rep);
  EXPECT_EQ(text.find('\x1b'), std::string::npos) << text;
  EXPECT_NE(text.find("RESETS BY CAUSE"), std::string::npos);
  EXPECT_NE(text.find("unread_data_at_close"), std::string::npos);
  const std::string json = report::render_json_report(rep);
  size_t resets = 0;
  for (size_t at = 0, nl; (nl = json.find('\n', at)) != std::string::npos; at = nl + 1) {
    const auto j = nlohmann::json::parse(json.substr(at, nl - at));
    EXPECT_EQ(j["schema"], "connreset/1");
    if (j["type"] == "reset") {
      ++resets;
      EXPECT_EQ(j["cause"], "unread_data_at_close");
      EXPECT_EQ(j["receiver_host"], "host-a");
      EXPECT_EQ(j["unread_bytes"], 3996);
    }
  }
  EXPECT_EQ(resets, 1u);
}

TEST(ReportTime, ParsesRfc3339AndUnixSeconds) {
  EXPECT_EQ(report::parse_time("1764000000"), kWallBase);
  EXPECT_EQ(report::parse_time("1764000000.5"), kWallBase + kSecond / 2);
  EXPECT_EQ(report::parse_time("2025-11-24T16:00:00Z"), kWallBase);
  EXPECT_EQ(report::parse_time("2025-11-24T16:00:00.25Z"), kWallBase + kSecond / 4);
  EXPECT_FALSE(report::parse_time("yesterday"));
  EXPECT_FALSE(report::parse_time("2025-13-24T16:00:00Z"));
}

}  // namespace
}  // namespace connreset
