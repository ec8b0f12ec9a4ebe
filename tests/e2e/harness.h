#pragma once
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "pipeline/live_session.h"
#include "scenarios/scenarios.h"
#include "sinks/collecting_sink.h"

namespace connreset::e2e {

void set_family(FamilyChoice family, const std::string& name);
// The one private network namespace of this test process (entered on first use):
// the whole binary may run in one process (VMs), so every fixture must share it.
uint32_t private_netns();
// Runs fn in a thread that sits in the host's (pid 1's) network namespace:
// for host-wide sysctls, which a private namespace does not show.
void in_host_netns(const std::function<void()>& fn);
FamilyChoice family();
const std::string& family_name();

// Every test: a private network namespace (entered once per process) and a
// live tracer filtered to it, polling in the background.
class LiveTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // The reset on the scenario's port, waiting up to a few settle periods.
  std::optional<Explanation> reset_on_port(uint16_t port);
  std::vector<Explanation> resets_on_port(uint16_t port);
  // Waits (with a deadline) until the tracer has caught up with everything
  // that happened before this call: a marker reset (a refused connect) is
  // made now and waited for. Resets are reported in the order they settle,
  // so anything earlier that was going to be reported has been. For tests
  // that check something did NOT happen, instead of sleeping a fixed time.
  void caught_up();
  static uint32_t netns();
  // What the attach plan in use can know: the kernel's RST reason needs the
  // 6.10+ tracepoint; sockets keep their key into TIME_WAIT unless kprobes
  // force address keys.
  bool reasons_available() const;
  bool keys_survive_time_wait() const;
  // The plan's reset_received probe sees the RST segment itself (fentry/kprobe on tcp_reset(sk, skb)).
  bool rst_segment_visible() const;
  // Equal to the expected reason where the plan reads reasons, empty elsewhere.
  void expect_reason(const Explanation& x, const std::string& reason) const;

  CollectingSink sink_;
  std::unique_ptr<LiveSession> session_;
  LiveOptions options_;
  bool filter_netns_ = true;  // only the test's private namespace
};

}  // namespace connreset::e2e
