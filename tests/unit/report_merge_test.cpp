// Journals from two hosts, replayed together: the reset seen on host A is
// explained by the close recorded on host B.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "report/journal_set.h"
#include "report/render.h"
#include "report/report_model.h"
#include "report/summary.h"
#include "sinks/json_format.h"
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
  EXPECT_EQ(c.x.cause, Cause::UnreadDataAtClose);
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
      EXPECT_EQ(c.x.cause, Cause::RemoteUnknown);
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
  opt.narrow.causes = {Cause::LingerZeroClose};
  EXPECT_TRUE(report::build_report(files, opt).resets.empty());
  opt.narrow.causes = {Cause::UnreadDataAtClose};
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

// Bug: a directory of 70,000 small journals ended in std::bad_alloc, every file
// mapped at once past the map-count limit (65,530). Now one file is open at a time.
TEST(ReportScale, DirectoryOf70000SmallJournals_IsReadOneFileAtATime) {
  TempDir many;
  constexpr int kFiles = 70'000;
  const Conn c{7, ep(40000, 0x0a000001), ep(8080, 0x0a000002), 1111};
  for (int i = 0; i < kFiles; ++i) {
    journal::Meta m = test_meta("host-a", kWallBase);
    m.sequence = static_cast<uint64_t>(i + 1);
    const auto bytes = journal_bytes(m, {call(static_cast<uint64_t>(i) * kMs, c, task(500, "curl"), Call::Send,
                                              Phase::Data, 10)});
    const std::string path = many.file(journal::file_name(m.sequence));
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
    ::close(fd);
  }
  const auto set = report::open_journals({many.path()});
  EXPECT_EQ(set.files_read, static_cast<size_t>(kFiles));
  EXPECT_TRUE(set.problems.empty());
  report::ReportOptions opt;
  const report::Report rep = report::build_report(set, opt);
  EXPECT_EQ(rep.replay.events, static_cast<uint64_t>(kFiles));
  EXPECT_TRUE(rep.problems.empty()) << rep.problems.front();
}

TEST_F(TwoHosts, Since_SkipsWholeFilesBeforeTheWindow) {
  // host A's first file ends long before --since (its successor starts
  // before the window's look-back); the reset is in the second file
  const uint64_t a0 = 5000 * kSecond;
  journal::Meta m1 = test_meta("host-a", kWallBase - static_cast<int64_t>(a0));
  m1.sequence = 1;
  m1.created_wall_ns = kWallBase - 3600 * kSecond;
  journal::Meta m2 = m1;
  m2.sequence = 2;
  m2.created_wall_ns = kWallBase - 60 * kSecond;
  write_file(dir.file(journal::file_name(1)),
             journal_bytes(m1, {call(a0 - 3000 * kSecond, client_on_a, client, Call::Send, Phase::Data, 1)}));
  write_file(dir.file(journal::file_name(2)),
             journal_bytes(m2, {state(a0 + 1 * kMs, client_on_a, client, tcp::kClose, tcp::kSynSent),
                                rst_received(a0 + 10 * kMs, client_on_a, task(0, "swapper/0"))}));
  report::ReportOptions opt;
  opt.correlator.settle_ns = 100 * kMs;
  opt.narrow.since_wall_ns = kWallBase - kSecond;
  const auto set = report::open_journals({dir.path()});
  ASSERT_EQ(set.files_read, 2u);
  const report::Report rep = report::build_report(set, opt);
  EXPECT_EQ(rep.replay.files_skipped, 1u);
  EXPECT_EQ(rep.resets.size(), 1u);
  opt.narrow.until_wall_ns = kWallBase - 7200 * kSecond;  // before everything: the files are not read
  opt.narrow.since_wall_ns.reset();
  const report::Report none = report::build_report(set, opt);
  EXPECT_TRUE(none.resets.empty());
  EXPECT_EQ(none.replay.files_skipped, 2u);
  EXPECT_EQ(none.replay.events, 0u);
}

TEST_F(TwoHosts, HtmlPage_StaysSmallWithManyResets_FirstAndRecentPerCause) {
  // 3,000 resets of one cause: the page shows the first and the last 10 and counts the rest
  const uint64_t a0 = 100 * kSecond;
  std::vector<Event> evs;
  for (uint64_t i = 0; i < 3000; ++i) {
    const Conn conn{1000 + i, ep(static_cast<uint16_t>(20000 + i % 30000), 0x0a000001), ep(8080, 0x0a000002), 1111};
    evs.push_back(state(a0 + i * 10 * kMs, conn, client, tcp::kClose, tcp::kSynSent));
    evs.push_back(rst_received(a0 + i * 10 * kMs + kMs, conn, task(0, "swapper/0")));
  }
  write_file(dir.file("a.journal"), journal_bytes(test_meta("host-a", kWallBase - static_cast<int64_t>(a0)), evs));
  report::ReportOptions opt;
  opt.correlator.settle_ns = 100 * kMs;
  const auto set = report::open_journals({dir.file("a.journal")});
  const report::Report rep = report::build_report(set, opt);
  ASSERT_EQ(rep.resets.size(), 3000u);
  const std::string html = report::render_html_report(rep, 10);
  size_t blocks = 0;
  for (size_t at = 0; (at = html.find("<div class=reset>", at)) != std::string::npos; ++at) ++blocks;
  EXPECT_EQ(blocks, 20u);
  EXPECT_NE(html.find("2,980 more remote_unknown resets, not shown"), std::string::npos);
  EXPECT_LT(html.size(), 400'000u);
}

TEST(ReportFiles, HtmlIsWrittenPrivately_NeverThroughASymlink) {
  TempDir d;
  write_file(d.file("victim"), {std::byte{'x'}});
  ::chmod(d.file("victim").c_str(), 0644);
  ASSERT_EQ(::symlink(d.file("victim").c_str(), d.file("report.html").c_str()), 0);
  std::string err;
  ASSERT_TRUE(report::write_private_file(d.file("report.html"), "<html></html>", &err)) << err;
  struct stat st {};
  ASSERT_EQ(::lstat(d.file("report.html").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode)) << "the symlink is replaced, not followed";
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(d.file("victim").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 1) << "the symlink's target was written";
  // an existing 0644 page becomes 0600
  write_file(d.file("old.html"), {std::byte{'x'}});
  ::chmod(d.file("old.html").c_str(), 0644);
  ASSERT_TRUE(report::write_private_file(d.file("old.html"), "<html></html>", &err)) << err;
  ASSERT_EQ(::stat(d.file("old.html").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  size_t leftovers = 0;
  for (const auto& e : std::filesystem::directory_iterator(d.path())) {
    leftovers += e.path().filename().string().rfind(".connreset-report-", 0) == 0;
  }
  EXPECT_EQ(leftovers, 0u);
}

// Bug: --since 9999999999 (and 2300-01-01) wrapped around to a time before
// every reset; now they are refused as out of range.
// report --json writes reset lines without nlohmann (speed); they must stay the
// bytes trace --json's reset_to_json gives, plus the host fields, on every field.
TEST_F(TwoHosts, JsonResetLine_IsByteForByteTheNlohmannObject) {
  write_journals(300);
  report::ReportOptions opt;
  opt.correlator.settle_ns = 100 * kMs;
  const auto set = report::open_journals({dir.file("a.journal"), dir.file("b.journal")});
  const report::Report rep = report::build_report(set, opt);
  ASSERT_EQ(rep.resets.size(), 1u);
  auto reference = [](const report::ConnectionReport& c) {
    nlohmann::json j = reset_to_json(c.x, ClockMap{0});
    j["receiver_host"] = c.receiver_host.empty() ? nlohmann::json(nullptr) : nlohmann::json(c.receiver_host);
    j["sender_host"] = c.sender_host.empty() ? nlohmann::json(nullptr) : nlohmann::json(c.sender_host);
    j["host"] = !c.receiver_host.empty() ? c.receiver_host : !c.sender_host.empty() ? c.sender_host : "node-1";
    return dump_line(j);
  };
  std::vector<report::ConnectionReport> variants{rep.resets[0]};
  report::ConnectionReport v = rep.resets[0];
  v.x.reset.sender->comm = "<script>\x1b[2J\"\\ \xc3\xa9 \xff\xfe";  // escapes, UTF-8, invalid UTF-8
  v.x.because = "tab\there, \"quoted\"";
  v.x.linger = Linger{true, 0};
  v.x.reset.actor = task(77, "ss");
  v.x.reset.closer = CloseInfo{task(900, "api-server"), "exit", true, 5};
  v.x.unread_bytes.reset();
  v.x.rst_reason.clear();
  v.receiver_host.clear();
  variants.push_back(v);
  // container and pod on the parties: full, partly unknown (null members)
  auto full = std::make_shared<Workload>();
  full->container = ContainerRef{std::string(64, 'a'), "containerd", "api\"x"};
  full->pod = PodRef{"0f1e2d3c-aaaa-bbbb-cccc-000000000001", "shop", "api-7d9"};
  auto partial = std::make_shared<Workload>();
  partial->container = ContainerRef{std::string(64, 'b'), "", ""};
  partial->pod = PodRef{"0f1e2d3c-aaaa-bbbb-cccc-000000000002", "", ""};
  v.x.workloads[v.x.reset.sender->pid] = full;
  v.x.workloads[77] = partial;
  v.x.workloads[900] = full;
  v.receiver_host.clear();
  v.sender_host.clear();
  variants.push_back(v);
  v.x.workloads.clear();
  v.x.linger = Linger{true, 30.5};
  v.x.reset.sent.reset();
  v.x.reset.received.reset();
  v.x.reset.sender.reset();
  v.x.reset.receiver.reset();
  v.x.reset.closer.reset();
  v.x.reset.observed.clear();
  v.x.reset.local = Endpoint{};
  v.sender_host = "h\"ost";
  variants.push_back(v);
  for (const auto& c : variants) {
    EXPECT_EQ(report::json_reset_line(c, "node-1"), reference(c));
  }
}

TEST(ReportTime, BeyondWhatNanosecondsHold_IsRefusedNotWrapped) {
  EXPECT_FALSE(report::parse_time("9999999999"));
  EXPECT_FALSE(report::parse_time("999999999999"));
  EXPECT_FALSE(report::parse_time("2300-01-01T00:00:00Z"));
  EXPECT_TRUE(report::parse_time("9223372035"));  // 2262-04-11, the last whole second that fits
}

TEST(ReportTime, RelativeTimes_CountBackFromNow) {
  const int64_t now = kWallBase;
  EXPECT_EQ(report::parse_time("15m", now), now - 15 * 60 * kSecond);
  EXPECT_EQ(report::parse_time("2h", now), now - 2 * 3600 * kSecond);
  EXPECT_EQ(report::parse_time("90s", now), now - 90 * kSecond);
  EXPECT_EQ(report::parse_time("1d", now), now - 86400 * kSecond);
  EXPECT_FALSE(report::parse_time("15x", now));
  EXPECT_FALSE(report::parse_time("-15m", now));
}

// Bug: a crafted clock offset made to_wall_ns overflow (signed wrap-around).
TEST(ReportTime, ClockOffsetsSaturateInsteadOfWrapping) {
  EXPECT_EQ((ClockMap{INT64_MAX}.to_wall_ns(UINT64_MAX)), INT64_MAX);
  EXPECT_EQ((ClockMap{INT64_MIN}.to_wall_ns(5)), 0);
  EXPECT_EQ((ClockMap{INT64_MAX}.to_wall_ns(10)), INT64_MAX);
  EXPECT_EQ((ClockMap{-5}.to_wall_ns(10)), 5);
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
