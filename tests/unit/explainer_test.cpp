#include "explain/explainer.h"

#include <gtest/gtest.h>

#include "correlate/correlator.h"
#include "explain/causes.h"
#include "unit/event_builder.h"

namespace connreset {
namespace {

using namespace connreset::testing;

const Conn kServer{11, ep(80), ep(40000)};

ResetCase sent_only(const Event& e) {
  ResetCase c;
  c.ts_ns = e.ts_ns;
  c.sent = e;
  return c;
}

Event active(RstReason reason, uint8_t st, uint8_t shutdown = 0, bool orphan = false) {
  Event e = base(EventType::ResetSent, 1, kServer, task(1, "srv"));
  e.reason = reason;
  e.active = true;
  e.state = st;
  e.shutdown = shutdown;
  e.orphan = orphan;
  return e;
}

TEST(Classify, EachKernelReasonMapsToItsCause) {
  EXPECT_EQ(classify(sent_only(abort_on_close(1, kServer, task(1, "s"), 5))), Cause::UnreadDataAtClose);
  EXPECT_EQ(classify(sent_only(linger_zero_close(1, kServer, task(1, "s")))), Cause::LingerZeroClose);
  EXPECT_EQ(classify(sent_only(active(RstReason::TcpState, tcp::kEstablished))), Cause::SocketDestroyed);
  EXPECT_EQ(classify(sent_only(active(RstReason::TcpState, tcp::kClose))), Cause::Disconnect);
  EXPECT_EQ(classify(sent_only(active(RstReason::TcpState, tcp::kFinWait2, 3, true))),
            Cause::FinWait2Timeout);
  EXPECT_EQ(classify(sent_only(active(RstReason::TcpAbortOnMemory, tcp::kClose, 3, true))),
            Cause::OrphanMemoryPressure);
  EXPECT_EQ(classify(sent_only(active(RstReason::TcpAbortOnLinger, tcp::kClose, 3, true))),
            Cause::FinWait2Timeout);
  EXPECT_EQ(classify(sent_only(active(RstReason::TcpKeepaliveTimeout, tcp::kClose))),
            Cause::KeepaliveTimeout);
  EXPECT_EQ(classify(sent_only(active(RstReason::TcpAbortOnData, tcp::kClose))), Cause::DataAfterClose);
  EXPECT_EQ(classify(sent_only(active(RstReason::TcpTimewaitSocket, tcp::kTimeWait))),
            Cause::WriteAfterPeerClose);
  EXPECT_EQ(classify(sent_only(active(RstReason::TcpRfc7323Paws, tcp::kEstablished))),
            Cause::ProtocolViolation);
}

TEST(Classify, NoSocketReply_SynIsRefused_DataIsUnknownConnection) {
  EXPECT_EQ(classify(sent_only(no_socket_reply(1, ep(80), ep(4000), tcp::kSegSyn, task(1, "x")))),
            Cause::ConnectionRefused);
  EXPECT_EQ(classify(sent_only(no_socket_reply(1, ep(80), ep(4000), tcp::kSegAck, task(1, "x")))),
            Cause::UnknownConnection);
}

TEST(Classify, OnlyReceived_IsRemoteUnknown) {
  ResetCase c;
  c.received = rst_received(1, Conn{22, ep(40000), ep(80, 0x0a000001)}, task(1, "x"));
  EXPECT_EQ(classify(c), Cause::RemoteUnknown);
}

TEST(Classify, KernelsWithoutReasons_DeriveFromSocketState) {
  Event unread = abort_on_close(1, kServer, task(1, "s"), 12);
  unread.reason = RstReason::Unavailable;
  EXPECT_EQ(classify(sent_only(unread)), Cause::UnreadDataAtClose);
  Event linger = linger_zero_close(1, kServer, task(1, "s"));
  linger.reason = RstReason::Unavailable;
  EXPECT_EQ(classify(sent_only(linger)), Cause::LingerZeroClose);
  Event refused = no_socket_reply(1, ep(80), ep(4000), tcp::kSegSyn, task(1, "x"));
  refused.reason = RstReason::Unavailable;
  EXPECT_EQ(classify(sent_only(refused)), Cause::ConnectionRefused);
}

TEST(Explain, EveryCauseHasAPathAndAdviceAndASentence) {
  for (const CauseInfo& info : cause_catalog()) {
    EXPECT_FALSE(info.kernel_path.empty()) << info.id;
    EXPECT_FALSE(info.advice.empty()) << info.id;
  }
  const Explanation x = explain(sent_only(abort_on_close(1, kServer, task(7, "srv"), 1048576)));
  EXPECT_EQ(x.cause, Cause::UnreadDataAtClose);
  EXPECT_EQ(x.rst_reason, "TCP_ABORT_ON_CLOSE");
  EXPECT_NE(x.because.find("1,048,576 unread bytes"), std::string::npos) << x.because;
  EXPECT_NE(x.advice.find("shutdown(SHUT_WR)"), std::string::npos);
}

TEST(Explain, LingerEvidenceIsReported) {
  const Explanation x = explain(sent_only(linger_zero_close(1, kServer, task(1, "s"))));
  ASSERT_TRUE(x.linger);
  EXPECT_TRUE(x.linger->on);
  EXPECT_EQ(x.linger->seconds, 0.0);
  EXPECT_EQ(x.unread_bytes, 0u);
}

TEST(Explain, ProcessNamesAreEscapedInSentences) {
  ResetCase c = sent_only(abort_on_close(1, kServer, task(1, "evil\x1b[2J"), 3));
  c.closer = CloseInfo{task(1, "evil\x1b[2J"), "close", false, 1};
  const Explanation x = explain(c);
  EXPECT_EQ(x.because.find('\x1b'), std::string::npos);
  EXPECT_NE(x.because.find("evil\\x1b[2J[1]"), std::string::npos) << x.because;
}

}  // namespace
}  // namespace connreset

namespace connreset {
namespace {

using namespace connreset::testing;

// Kernels/families without RST reasons: the same causes from the socket state.
Event no_reason(uint8_t st, uint8_t shutdown, bool is_active = true, bool orphan = false) {
  Event e = base(EventType::ResetSent, 1, Conn{11, ep(80), ep(40000)}, task(1, "srv"));
  e.reason = RstReason::Unavailable;
  e.active = is_active;
  e.state = st;
  e.shutdown = shutdown;
  e.orphan = orphan;
  return e;
}

TEST(ClassifyWithoutReason, EachCauseFromTheSocketState) {
  ResetCase linger2 = sent_only(no_reason(tcp::kClose, 3, true, true));
  linger2.sender_prev_state = tcp::kFinWait2;
  EXPECT_EQ(classify(linger2), Cause::FinWait2Timeout);
  ResetCase memory = sent_only(no_reason(tcp::kClose, 3, true, true));
  memory.sender_prev_state = tcp::kFinWait1;
  EXPECT_EQ(classify(memory), Cause::OrphanMemoryPressure);
  Event keepalive = no_reason(tcp::kEstablished, 0);
  keepalive.keepalive = true;
  keepalive.probes_out = 2;
  EXPECT_EQ(classify(sent_only(keepalive)), Cause::KeepaliveTimeout);
  EXPECT_FALSE(reset_sent_in_task_context(keepalive)) << "a timer sent it, not current";
  EXPECT_EQ(classify(sent_only(no_reason(tcp::kEstablished, 0))), Cause::SocketDestroyed);
  EXPECT_TRUE(reset_sent_in_task_context(no_reason(tcp::kEstablished, 0)));
  EXPECT_EQ(classify(sent_only(no_reason(tcp::kClose, 0))), Cause::Disconnect);
  EXPECT_EQ(classify(sent_only(no_reason(tcp::kClose, 3, false))), Cause::DataAfterClose);
  EXPECT_EQ(classify(sent_only(no_reason(tcp::kListen, 0, false))), Cause::ProtocolViolation);
  Event tw = no_reason(tcp::kTimeWait, 0, false);
  tw.timewait = true;
  EXPECT_EQ(classify(sent_only(tw)), Cause::WriteAfterPeerClose);
}

TEST(ClassifyWithoutReason, RefusedFromTheReceiverAloneWhenTheNoSocketRstIsNotSeen) {
  ResetCase c;
  c.received = rst_received(1, Conn{22, ep(40000), ep(9)}, task(1, "x"), tcp::kSynSent);
  EXPECT_EQ(classify(c), Cause::ConnectionRefused);
}

}  // namespace
}  // namespace connreset
