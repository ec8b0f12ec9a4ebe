#include "e2e/harness.h"

#include "scenarios/netns.h"

namespace connreset::e2e {
namespace {
FamilyChoice g_family = FamilyChoice::Auto;
std::string g_family_name = "auto";
uint32_t g_netns = 0;
}  // namespace

void set_family(FamilyChoice f, const std::string& name) {
  g_family = f;
  g_family_name = name;
}
FamilyChoice family() { return g_family; }
const std::string& family_name() { return g_family_name; }
uint32_t LiveTest::netns() { return g_netns; }

void LiveTest::SetUp() {
  if (g_netns == 0) {
    std::string err;
    g_netns = enter_private_netns(&err);
    ASSERT_NE(g_netns, 0u) << "cannot create a private network namespace: " << err;
  }
  options_.command = "e2e";
  options_.family = g_family;
  if (filter_netns_) options_.filter.netns = g_netns;
  options_.correlator.settle_ns = 300'000'000;
  options_.correlator.lifecycle = true;  // lets tests prove the tracer saw a connection
  session_ = std::make_unique<LiveSession>(options_, std::vector<Sink*>{&sink_});
  session_->start_background();
}

void LiveTest::TearDown() {
  if (!session_) return;
  session_->stop_background();
  const RunStats st = session_->finish();
  EXPECT_EQ(st.lost, 0u) << "kernel events were lost";
  EXPECT_EQ(st.decode_errors, 0u);
}

std::optional<Explanation> LiveTest::reset_on_port(uint16_t port) {
  return sink_.wait_for(
      [port](const Explanation& x) { return x.reset.local.port == port || x.reset.remote.port == port; },
      std::chrono::milliseconds(5000));
}

std::vector<Explanation> LiveTest::resets_on_port(uint16_t port) {
  return sink_.matching(
      [port](const Explanation& x) { return x.reset.local.port == port || x.reset.remote.port == port; });
}

}  // namespace connreset::e2e
