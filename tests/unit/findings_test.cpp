// Findings: which end a task ignored, named by what its calls returned, and the
// advice the explainer adds (JSON carries it as well as text).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "correlate/correlator.h"
#include "explain/explainer.h"
#include "sinks/json_format.h"
#include "sinks/text_sink.h"
#include "unit/event_builder.h"

namespace connreset {
namespace {

using namespace connreset::testing;

struct Found : CorrelatorOutput {
  void on_reset(const ResetCase&) override {}
  void on_finding(const Finding& f) override { findings.push_back(f); }
  std::vector<Finding> findings;
};

const Conn kSock{22, ep(46252), ep(18081)};
const TaskRef kClient = task(4121, "client");

// What the kernel reports for a loop: the first call of the end, then the call at the threshold.
std::vector<Finding> loop(Call which, Phase phase, int ret) {
  Found out;
  Correlator c(CorrelatorOptions{}, out);
  c.on_event(call(1 * kMs, kSock, kClient, which, phase, ret, 1));
  c.on_event(call(2 * kMs, kSock, kClient, which, phase, ret, kDefaultLoopThreshold));
  return out.findings;
}

TEST(Findings, RecvAfterEofIsALoopAfterTheEnd) {
  const auto f = loop(Call::Recv, Phase::Eof, 0);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].kind, "recv_loop_after_end");
  EXPECT_EQ(f[0].after, "EOF");
  EXPECT_EQ(f[0].count, kDefaultLoopThreshold - 1);
}

TEST(Findings, EveryErrorThatEndedTheConnectionIsAnIgnoredResetNamedByTheError) {
  for (int err : {ECONNRESET, EPIPE, ETIMEDOUT, EHOSTUNREACH}) {
    for (Call which : {Call::Recv, Call::Send}) {
      SCOPED_TRACE(std::to_string(err) + (which == Call::Recv ? " recv" : " send"));
      const auto f = loop(which, Phase::Error, -err);
      ASSERT_EQ(f.size(), 1u);
      EXPECT_EQ(f[0].kind, "ignored_reset");
      EXPECT_EQ(f[0].after, f[0].result);
      EXPECT_NE(f[0].after, "EOF");
    }
  }
}

TEST(Findings, ABadCallIsNotAnEnd) {
  EXPECT_TRUE(loop(Call::Send, Phase::Error, -EFAULT).empty());
  EXPECT_TRUE(loop(Call::Recv, Phase::Error, -EINVAL).empty());
}

TEST(Findings, AdviceComesFromTheExplainerAndReachesTextAndJson) {
  Finding f = loop(Call::Send, Phase::Error, -ETIMEDOUT).at(0);
  EXPECT_TRUE(f.advice.empty()) << "the correlator finds; the explainer advises";
  f = explain(f);
  EXPECT_EQ(f.advice,
            "treat ETIMEDOUT as the end of the connection: stop calling send(), close() the socket "
            "and reconnect if needed.");
  EXPECT_EQ(finding_to_json(f, ClockMap{0})["advice"], f.advice);
  EXPECT_NE(render_text(f, ClockMap{0}).find("  fix: " + f.advice + "\n"), std::string::npos);

  const Finding eof = explain(loop(Call::Recv, Phase::Eof, 0).at(0));
  EXPECT_EQ(eof.advice,
            "recv() == 0 means the peer closed: stop reading, finish sending if needed, then close(); "
            "a loop that ignores the return value spins here.");
}

}  // namespace
}  // namespace connreset
