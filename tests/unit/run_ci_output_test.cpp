// connreset run's CI outputs: --fail-on, JUnit XML, GitHub annotations.
#include <gtest/gtest.h>

#include "explain/explainer.h"
#include "pipeline/filter.h"
#include "run/ci_output.h"
#include "unit/event_builder.h"

namespace connreset {
namespace {

using namespace connreset::testing;

Explanation unread_reset(const char* server_comm = "python3") {
  ResetCase c;
  c.ts_ns = 10 * kMs;
  c.sent = abort_on_close(10 * kMs, Conn{11, ep(18081), ep(46252)}, task(4100, server_comm), 500);
  c.received = rst_received(10 * kMs, Conn{22, ep(46252), ep(18081)}, task(4100, server_comm));
  c.local = ep(46252);
  c.remote = ep(18081);
  c.netns = kNetns;
  c.sender = task(4100, server_comm);
  c.receiver = task(4121, "curl");
  c.closer = CloseInfo{task(4100, server_comm), "close", false, 10 * kMs};
  return explain(c);
}

Finding loop_finding(uint64_t count) {
  Finding f;
  f.kind = "recv_loop_after_end";
  f.task = task(4121, "curl");
  f.local = ep(46252);
  f.remote = ep(18081);
  f.call = "recv";
  f.result = "EOF";
  f.after = "EOF";
  f.count = count;
  return f;
}

TEST(FailOn, ParsesAnyFindingsAndCauseLists) {
  std::string err;
  auto any = parse_fail_on("any", &err);
  ASSERT_TRUE(any);
  EXPECT_TRUE(any->matches(unread_reset()));
  EXPECT_TRUE(any->matches(loop_finding(64)));

  auto causes = parse_fail_on("linger_zero_close,unread_data_at_close", &err);
  ASSERT_TRUE(causes) << err;
  EXPECT_TRUE(causes->matches(unread_reset()));
  EXPECT_FALSE(causes->matches(loop_finding(64)));

  auto other = parse_fail_on("linger_zero_close,findings", &err);
  ASSERT_TRUE(other) << err;
  EXPECT_FALSE(other->matches(unread_reset()));
  EXPECT_TRUE(other->matches(loop_finding(64)));
}

TEST(FailOn, UnknownOrEmptyItemIsAnErrorListingTheValidOnes) {
  std::string err;
  EXPECT_FALSE(parse_fail_on("unread_data", &err));
  EXPECT_NE(err.find("'unread_data'"), std::string::npos) << err;
  EXPECT_NE(err.find("unread_data_at_close"), std::string::npos) << err;
  EXPECT_FALSE(parse_fail_on("any,", &err));
  EXPECT_FALSE(parse_fail_on("\x1b[2J", &err));
  EXPECT_EQ(err.find('\x1b'), std::string::npos) << "the bad item is escaped";
}

TEST(RunCollector, OneFindingPerLoop_TheLastCountWins) {
  RunCollector c;
  c.finding(loop_finding(64));
  c.finding(loop_finding(128));
  Finding other = loop_finding(64);
  other.task.pid = 5000;
  c.finding(other);
  ASSERT_EQ(c.findings().size(), 2u);
  EXPECT_EQ(c.findings()[0].count, 128u);
}

TEST(JUnit, OneCasePerResetAndFinding_FailuresWhereFailOnMatches) {
  RunCollector c;
  c.reset(unread_reset());
  c.finding(loop_finding(64));
  RunOutcome o;
  o.command = "make test <all>";
  o.cmd_exit = 2;
  std::string err;
  const std::string xml = junit_xml(c, o, *parse_fail_on("unread_data_at_close", &err));
  EXPECT_EQ(xml.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"connreset\" tests=\"2\" "
                      "failures=\"1\"", 0), 0u) << xml;
  EXPECT_NE(xml.find("name=\"connreset run: make test &lt;all&gt;\""), std::string::npos) << xml;
  EXPECT_NE(xml.find("<property name=\"exit_code\" value=\"2\"/>"), std::string::npos) << xml;
  EXPECT_NE(xml.find("classname=\"connreset.reset.unread_data_at_close\""), std::string::npos) << xml;
  EXPECT_NE(xml.find("<failure type=\"unread_data_at_close\" message=\"python3[4100] close()d"), std::string::npos)
      << xml;
  EXPECT_NE(xml.find("classname=\"connreset.finding.recv_loop_after_end\""), std::string::npos) << xml;
  EXPECT_NE(xml.find("<system-out>FINDING recv_loop_after_end"), std::string::npos) << "not failed: output only";
}

TEST(JUnit, NoResets_OnePassingCase) {
  RunCollector c;
  const std::string xml = junit_xml(c, RunOutcome{}, FailOn{});
  EXPECT_NE(xml.find("tests=\"1\" failures=\"0\""), std::string::npos) << xml;
  EXPECT_NE(xml.find("name=\"no connection resets\""), std::string::npos) << xml;
  EXPECT_EQ(xml.find("<failure"), std::string::npos);
}

TEST(JUnit, HostileProcessNamesStayWellFormed) {
  EXPECT_EQ(xml_escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&apos;");
  EXPECT_EQ(xml_escape("x\x01\x1b\xff"), "x\\x01\\x1b\\xff");
  RunCollector c;
  c.reset(unread_reset("<evil>\x01"));
  const std::string xml = junit_xml(c, RunOutcome{}, FailOn{});
  EXPECT_EQ(xml.find("<evil>"), std::string::npos) << xml;
  EXPECT_EQ(xml.find('\x01'), std::string::npos) << xml;
}

TEST(GithubAnnotations, ErrorWhereFailOnMatchesWarningElse_OneLineEach) {
  RunCollector c;
  c.reset(unread_reset());
  c.finding(loop_finding(64));
  std::string err;
  const std::string out = github_annotations(c, *parse_fail_on("unread_data_at_close", &err));
  const auto nl = out.find('\n');
  ASSERT_NE(nl, std::string::npos);
  const std::string first = out.substr(0, nl), second = out.substr(nl + 1);
  // the text block's first line: time, then RESET
  EXPECT_EQ(first.rfind("::error title=connreset%3A unread_data_at_close::", 0), 0u) << first;
  EXPECT_NE(first.find(" RESET 127.0.0.1:"), std::string::npos) << first;
  EXPECT_NE(first.find("%0A  because "), std::string::npos) << "one line: newlines escaped";
  EXPECT_EQ(second.rfind("::warning title=connreset%3A recv_loop_after_end::FINDING", 0), 0u) << second;
  EXPECT_EQ(gha_escape_data("50%\r\nx\n"), "50%25%0D%0Ax");
  EXPECT_EQ(gha_escape_property("a:b,c"), "a%3Ab%2Cc");
}

TEST(Filter, ProcessTree_KeepsResetsWithAnyTreeTaskAndTheTreesFindings) {
  Filter f;
  f.process_tree = [](uint32_t tgid) { return tgid == 4100; };
  EXPECT_TRUE(f.matches(unread_reset()));  // the closer/sender is in the tree
  Finding outside = loop_finding(64);
  EXPECT_FALSE(f.matches(outside));  // curl[4121] is not
  f.process_tree = [](uint32_t tgid) { return tgid == 4121; };
  EXPECT_TRUE(f.matches(unread_reset()));  // the receiver is
  EXPECT_TRUE(f.matches(outside));
  f.process_tree = [](uint32_t tgid) { return tgid == 1; };
  EXPECT_FALSE(f.matches(unread_reset()));
}

}  // namespace
}  // namespace connreset
