// The demo's scenarios, traced live: cause, both ends (pid and comm) and the evidence.
#include <gtest/gtest.h>

#include <cerrno>

#include <thread>

#include "e2e/harness.h"

namespace connreset::e2e {
namespace {

class DemoScenarios : public LiveTest {};

TEST_F(DemoScenarios, UnreadDataAtClose_BlamesTheServerThatClosed) {
  const ScenarioOutcome o = run_unread_data_at_close();
  ASSERT_TRUE(o.ok()) << o.error;
  EXPECT_EQ(o.client_result, "ECONNRESET");
  const auto x = reset_on_port(o.server_port);
  ASSERT_TRUE(x) << "no reset traced";
  EXPECT_EQ(x->cause, Cause::UnreadDataAtClose);
  expect_reason(*x, "TCP_ABORT_ON_CLOSE");
  ASSERT_TRUE(x->reset.sender);
  EXPECT_EQ(x->reset.sender->pid, static_cast<uint32_t>(o.server_pid));
  EXPECT_EQ(x->reset.sender->comm, o.server_comm);
  ASSERT_TRUE(x->reset.receiver);
  EXPECT_EQ(x->reset.receiver->pid, static_cast<uint32_t>(o.client_pid));
  EXPECT_EQ(x->reset.receiver->comm, o.client_comm);
  EXPECT_EQ(x->unread_bytes, kUnreadScenarioBytes);
  ASSERT_TRUE(x->reset.closer);
  EXPECT_EQ(x->reset.closer->task.pid, static_cast<uint32_t>(o.server_pid));
  EXPECT_EQ(x->reset.closer->kind, "close");
  EXPECT_FALSE(x->reset.closer->exiting);
  // what the client's recv() returned, as traced
  bool saw_reset = false;
  for (const Observation& ob : x->reset.observed) {
    saw_reset |= ob.task.pid == static_cast<uint32_t>(o.client_pid) && ob.call == ObservedCall::Recv &&
                 ob.err == ECONNRESET;
  }
  EXPECT_TRUE(saw_reset) << "client's recv() -> ECONNRESET not observed";
  EXPECT_EQ(x->reset.local.port, x->reset.received->local.port) << "local is the receiver's side";
  EXPECT_EQ(x->reset.remote.port, o.server_port);
  EXPECT_EQ(resets_on_port(o.server_port).size(), 1u) << "one RST, one explanation";
}

TEST_F(DemoScenarios, LingerZeroClose_BlamesTheServerAndShowsTheLinger) {
  const ScenarioOutcome o = run_linger_zero_close();
  ASSERT_TRUE(o.ok()) << o.error;
  EXPECT_EQ(o.client_result, "ECONNRESET");
  const auto x = reset_on_port(o.server_port);
  ASSERT_TRUE(x) << "no reset traced";
  EXPECT_EQ(x->cause, Cause::LingerZeroClose);
  ASSERT_TRUE(x->reset.sender);
  EXPECT_EQ(x->reset.sender->pid, static_cast<uint32_t>(o.server_pid));
  EXPECT_EQ(x->reset.sender->comm, o.server_comm);
  ASSERT_TRUE(x->reset.receiver);
  EXPECT_EQ(x->reset.receiver->pid, static_cast<uint32_t>(o.client_pid));
  EXPECT_EQ(x->reset.receiver->comm, o.client_comm);
  EXPECT_EQ(x->unread_bytes, 0u);
  ASSERT_TRUE(x->linger);
  EXPECT_TRUE(x->linger->on);
  EXPECT_EQ(x->linger->seconds, 0.0);
}

TEST_F(DemoScenarios, ConnectionRefused_NamesTheClientAndNoSenderProcess) {
  const ScenarioOutcome o = run_connection_refused();
  ASSERT_TRUE(o.ok()) << o.error;
  EXPECT_EQ(o.client_result, "ECONNREFUSED");
  const auto x = reset_on_port(o.server_port);
  ASSERT_TRUE(x) << "no reset traced";
  EXPECT_EQ(x->cause, Cause::ConnectionRefused);
  EXPECT_FALSE(x->reset.sender.has_value()) << "no process sent this RST: the stack did";
  ASSERT_TRUE(x->reset.receiver);
  EXPECT_EQ(x->reset.receiver->pid, static_cast<uint32_t>(o.client_pid));
  EXPECT_EQ(x->reset.receiver->comm, o.client_comm);
  EXPECT_EQ(x->reset.remote.port, o.server_port);
  ASSERT_FALSE(x->reset.observed.empty());
  EXPECT_EQ(x->reset.observed[0].result(), "ECONNREFUSED");
}

TEST_F(DemoScenarios, CleanShutdownDrainClose_ProducesNoReset) {
  const ScenarioOutcome o = run_clean_close();
  ASSERT_TRUE(o.ok()) << o.error;
  EXPECT_EQ(o.client_result, "EOF");
  // any RST of this connection would have been reported before the marker's
  caught_up();
  EXPECT_TRUE(resets_on_port(o.server_port).empty());
  // ...and not because nothing was traced: the orderly FINs were seen, by the right processes
  bool server_fin = false, client_fin = false;
  for (const LifecycleEvent& ev : sink_.lifecycle_events()) {
    if (ev.event.state != tcp::kFinWait1 && ev.event.state != tcp::kLastAck) continue;
    if (!ev.owner) continue;
    server_fin |= ev.event.local.port == o.server_port && ev.owner->pid == static_cast<uint32_t>(o.server_pid);
    client_fin |= ev.event.remote.port == o.server_port && ev.owner->pid == static_cast<uint32_t>(o.client_pid);
  }
  EXPECT_TRUE(server_fin) << "server's shutdown(SHUT_WR) FIN not traced";
  EXPECT_TRUE(client_fin) << "client's close() FIN not traced";
}

}  // namespace
}  // namespace connreset::e2e
