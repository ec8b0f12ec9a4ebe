// The one rule for when an event's task (current) is the socket's owner, which the
// correlator and the report's timelines share, checked event type by event type.
#include "correlate/task_context.h"

#include <gtest/gtest.h>

#include "report/timeline.h"
#include "unit/event_builder.h"

namespace connreset {
namespace {

using namespace connreset::testing;

const Conn kSock{11, ep(18081), ep(46252)};
const TaskRef kTask = task(4100, "python3");

TEST(TaskContext, SyscallRecordsAreTheOwners) {
  EXPECT_TRUE(task_owns_socket(call(1, kSock, kTask, Call::Recv, Phase::Error, -ECONNRESET)));
  EXPECT_TRUE(task_owns_socket(call(1, kSock, kTask, Call::Send, Phase::Data, 10)));
  Event close = base(EventType::Close, 1, kSock, kTask);
  close.shutdown = tcp::kShutdownBoth;
  EXPECT_TRUE(task_owns_socket(close));
}

TEST(TaskContext, StateChangesOnlyFromConnectAndOurOwnFin) {
  EXPECT_TRUE(task_owns_socket(state(1, kSock, kTask, tcp::kClose, tcp::kSynSent)));
  EXPECT_TRUE(task_owns_socket(
      state(1, kSock, kTask, tcp::kEstablished, tcp::kFinWait1, tcp::kShutdownBoth)));
  EXPECT_TRUE(task_owns_socket(
      state(1, kSock, kTask, tcp::kCloseWait, tcp::kLastAck, tcp::kShutdownSend)));
  Event orphan_fin = state(1, kSock, kTask, tcp::kEstablished, tcp::kFinWait1, tcp::kShutdownBoth);
  orphan_fin.orphan = true;
  EXPECT_FALSE(task_owns_socket(orphan_fin)) << "an orphan's FIN is sent from a timer or an ACK";
  EXPECT_FALSE(task_owns_socket(state(1, kSock, kTask, tcp::kEstablished, tcp::kCloseWait)))
      << "the peer's FIN is processed in softirq";
  EXPECT_FALSE(task_owns_socket(state(1, kSock, kTask, tcp::kSynSent, tcp::kEstablished)));
  EXPECT_FALSE(task_owns_socket(state(1, kSock, kTask, tcp::kFinWait2, tcp::kTimeWait)));
}

TEST(TaskContext, ResetsOwnedOnlyWhenClosedWithThem) {
  EXPECT_TRUE(task_owns_socket(abort_on_close(1, kSock, kTask, 10)));
  EXPECT_TRUE(task_owns_socket(linger_zero_close(1, kSock, kTask)));
  // SOCK_DESTROY: current made the kernel send it (the actor) but does not own the socket
  Event destroy = base(EventType::ResetSent, 1, kSock, kTask);
  destroy.reason = RstReason::TcpState;
  destroy.active = true;
  destroy.state = tcp::kEstablished;
  EXPECT_TRUE(reset_sent_in_task_context(destroy));
  EXPECT_FALSE(task_owns_socket(destroy));
  Event keepalive = base(EventType::ResetSent, 1, kSock, kTask);
  keepalive.reason = RstReason::TcpKeepaliveTimeout;
  keepalive.active = true;
  EXPECT_FALSE(reset_sent_in_task_context(keepalive));
  EXPECT_FALSE(task_owns_socket(keepalive));
  EXPECT_FALSE(task_owns_socket(rst_received(1, kSock, kTask))) << "loopback: the sender's task";
  EXPECT_FALSE(task_owns_socket(no_socket_reply(1, ep(1), ep(2), tcp::kSegSyn, kTask)));
}

TEST(TaskContext, TimelineStatesAndCallsNameATaskExactlyWhenItOwnsTheSocket) {
  const std::vector<Event> events = {
      state(1, kSock, kTask, tcp::kClose, tcp::kSynSent),
      state(2, kSock, kTask, tcp::kSynSent, tcp::kEstablished),
      call(3, kSock, kTask, Call::Recv, Phase::Data, 10),
      state(4, kSock, kTask, tcp::kEstablished, tcp::kCloseWait),
      state(5, kSock, kTask, tcp::kCloseWait, tcp::kLastAck, tcp::kShutdownBoth),
      rst_received(6, kSock, kTask),
  };
  for (const Event& ev : events) {
    SCOPED_TRACE(ev.ts_ns);
    EXPECT_EQ(!report::timeline_entry(ev, 0).who.empty(), task_owns_socket(ev));
  }
}

}  // namespace
}  // namespace connreset
