#include "e2e/harness.h"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <thread>

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

uint32_t private_netns() {
  if (g_netns == 0) {
    std::string err;
    g_netns = enter_private_netns(&err);
    if (g_netns == 0) ADD_FAILURE() << "cannot create a private network namespace: " << err;
  }
  return g_netns;
}

void in_host_netns(const std::function<void()>& fn) {
  std::thread t([&] {
    const int fd = open("/proc/1/ns/net", O_RDONLY | O_CLOEXEC);
    // setns() moves only this thread
    if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) {
      ADD_FAILURE() << "cannot enter the host network namespace";
    } else {
      fn();
    }
    if (fd >= 0) close(fd);
  });
  t.join();
}

void LiveTest::SetUp() {
  ASSERT_NE(private_netns(), 0u);
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

bool LiveTest::reasons_available() const {
  for (const PlanEntry& e : session_->plan().entries) {
    if (e.probe->name == "reset_sent") return e.chosen && e.chosen->family == ProbeFamily::Tracepoint;
  }
  return false;
}

bool LiveTest::rst_segment_visible() const {
  for (const PlanEntry& e : session_->plan().entries) {
    if (e.probe->name != "reset_received" || !e.chosen) continue;
    if (e.chosen->family == ProbeFamily::Tracepoint) return false;
    const auto& f = session_->plan().features;
    return f && f->func_params("tcp_reset") == 2;
  }
  return false;
}

bool LiveTest::keys_survive_time_wait() const { return !session_->plan().uses(ProbeFamily::Kprobe); }

void LiveTest::expect_reason(const Explanation& x, const std::string& reason) const {
  if (reasons_available()) {
    EXPECT_EQ(x.rst_reason, reason);
  } else {
    EXPECT_EQ(x.rst_reason, "") << "no reason can be read by this plan";
  }
}

std::optional<Explanation> LiveTest::reset_on_port(uint16_t port) {
  return sink_.wait_for(
      [port](const Explanation& x) { return x.reset.local.port == port || x.reset.remote.port == port; },
      std::chrono::milliseconds(5000));
}

void LiveTest::caught_up() {
  const ScenarioOutcome marker = run_connection_refused();
  ASSERT_TRUE(marker.ok()) << marker.error;
  // generous: under qemu TCG the ring buffer and the settle period run slow
  const auto seen = sink_.wait_for(
      [&](const Explanation& x) { return x.reset.remote.port == marker.server_port && x.reset.receiver &&
                                         x.reset.receiver->pid == static_cast<uint32_t>(marker.client_pid); },
      std::chrono::seconds(20));
  ASSERT_TRUE(seen) << "the marker reset was never reported: the tracer did not catch up";
}

std::vector<Explanation> LiveTest::resets_on_port(uint16_t port) {
  return sink_.matching(
      [port](const Explanation& x) { return x.reset.local.port == port || x.reset.remote.port == port; });
}

}  // namespace connreset::e2e
