// The cause catalog: ids, parsing, and the exact text of every cause's explanation.
#include "explain/causes.h"

#include <gtest/gtest.h>

#include <functional>
#include <set>
#include <sstream>
#include <stdexcept>

#include "explain/explainer.h"
#include "unit/event_builder.h"

namespace connreset {
namespace {

using namespace connreset::testing;

TEST(CauseCatalog, IdsRoundTripAndAreUnique) {
  std::set<std::string_view> ids;
  for (Cause c : kAllCauses) {
    EXPECT_EQ(cause_from_id(cause_id(c)), c);
    EXPECT_EQ(parse_cause(cause_id(c)), c);
    EXPECT_EQ(cause_info(c).cause, c);
    EXPECT_TRUE(ids.insert(cause_id(c)).second) << cause_id(c);
  }
  EXPECT_EQ(ids.size(), kCauseCount);
  EXPECT_EQ(cause_catalog().size(), kCauseCount);
  std::ostringstream os;
  os << Cause::LingerZeroClose;
  EXPECT_EQ(os.str(), "linger_zero_close");
}

TEST(CauseCatalog, UnknownIdIsAClearError) {
  EXPECT_EQ(cause_from_id("unread_data"), std::nullopt);
  EXPECT_EQ(cause_from_id(""), std::nullopt);
  EXPECT_EQ(cause_from_id("UNREAD_DATA_AT_CLOSE"), std::nullopt);
  try {
    parse_cause("unread_data");
    FAIL() << "no error for a typo";
  } catch (const std::invalid_argument& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("unknown cause 'unread_data'"), std::string::npos) << msg;
    for (Cause c : kAllCauses) EXPECT_NE(msg.find(cause_id(c)), std::string::npos) << msg;
  }
  EXPECT_EQ(cause_ids(",").find("unread_data_at_close,linger_zero_close,"), 0u);
}

const Conn kServer{11, ep(80), ep(40000)};
const TaskRef kSrv = task(7, "srv");
const TaskRef kCli = task(8, "cli");
const TaskRef kAdmin = task(9, "ss");

// A reset as the correlator hands it over: both ends on this host, seen from the client.
ResetCase local_case(const Event& sent) {
  ResetCase c;
  c.ts_ns = sent.ts_ns;
  c.netns = kNetns;
  c.local = ep(40000);
  c.remote = ep(80);
  c.sent = sent;
  c.sender = kSrv;
  c.receiver = kCli;
  return c;
}

Event reset_sent(RstReason reason, uint8_t st, uint8_t shutdown = 0, bool orphan = false) {
  Event e = base(EventType::ResetSent, 1, kServer, kSrv);
  e.reason = reason;
  e.active = true;
  e.state = st;
  e.shutdown = shutdown;
  e.orphan = orphan;
  return e;
}

// The socket's stamps at an RST from another host (what the BPF side reads).
RstEvidence socket_evidence(uint32_t since_send_ms, uint32_t since_recv_ms, uint32_t since_ack_ms,
                            uint32_t unacked) {
  RstEvidence d;
  d.socket = true;
  d.times = true;
  d.since_send_ms = since_send_ms;
  d.since_recv_ms = since_recv_ms;
  d.since_ack_ms = since_ack_ms;
  d.unacked = unacked;
  d.srtt_us = 1000;
  d.bytes_acked = 101;
  d.bytes_received = 51;
  return d;
}

// Only the receiving side on this host; the RST came from 10.0.0.1.
ResetCase remote_case(const RstEvidence& d) {
  ResetCase c;
  c.local = ep(40000);
  c.remote = ep(80, 0x0a000001);
  c.received = rst_received(1, Conn{22, c.local, c.remote}, kCli);
  c.received->evidence = d;
  c.receiver = kCli;
  return c;
}

struct Expected {
  Cause cause;
  std::function<ResetCase()> make;
  std::string because;
};

// One case per cause, with the exact sentence it must produce.
std::vector<Expected> every_cause() {
  return {
      {Cause::UnreadDataAtClose,
       [] {
         ResetCase c = local_case(abort_on_close(1, kServer, kSrv, 1048576));
         c.closer = CloseInfo{kSrv, "close", false, 1};
         return c;
       },
       "srv[7] close()d its end with 1,048,576 unread bytes. Linux answers a close with unread "
       "data with RST instead of FIN and discards that data (RFC 2525 2.17)."},
      {Cause::LingerZeroClose,
       [] {
         ResetCase c = local_case(linger_zero_close(1, kServer, kSrv));
         c.closer = CloseInfo{kSrv, "exit", true, 1};
         return c;
       },
       "srv[7] died with SO_LINGER {on, 0 s}: an abortive close, which sends RST instead of FIN "
       "and discards unsent data."},
      {Cause::DataAfterClose,
       [] {
         ResetCase c = local_case(reset_sent(RstReason::TcpAbortOnData, tcp::kClose));
         c.closer = CloseInfo{kSrv, "close", false, 1};
         return c;
       },
       "srv[7] had already closed its end when more data from cli[8] arrived; Linux cannot "
       "deliver it and answers with RST."},
      {Cause::WriteAfterPeerClose,
       [] { return local_case(reset_sent(RstReason::TcpTimewaitSocket, tcp::kTimeWait)); },
       "cli[8] sent on a connection that srv[7] had already closed; with no socket left for it, "
       "the peer's stack answered RST."},
      {Cause::ConnectionRefused,
       [] {
         ResetCase c = local_case(no_socket_reply(1, ep(80), ep(40000), tcp::kSegSyn, kCli));
         c.sender.reset();
         return c;
       },
       "nothing listens on 127.0.0.1:80 (netns 4026531840); the kernel answered cli[8]'s SYN with "
       "RST and connect() failed with ECONNREFUSED."},
      {Cause::UnknownConnection,
       [] {
         ResetCase c = local_case(no_socket_reply(1, ep(80), ep(40000), tcp::kSegAck, kCli));
         c.sender.reset();
         return c;
       },
       "127.0.0.1:80 has no socket for this connection (peer restarted, lost its state or its "
       "namespace is gone) and answered cli[8]'s segment with RST."},
      {Cause::SocketDestroyed,
       [] {
         ResetCase c = local_case(reset_sent(RstReason::TcpState, tcp::kEstablished));
         c.actor = kAdmin;
         return c;
       },
       "ss[9] destroyed the socket of srv[7] (SOCK_DESTROY, e.g. ss -K); the kernel sent RST."},
      {Cause::Disconnect,
       [] { return local_case(reset_sent(RstReason::TcpDisconnectWithData, tcp::kClose)); },
       "srv[7] disconnected the connected socket (tcp_disconnect, e.g. connect(AF_UNSPEC)), which "
       "resets the connection."},
      {Cause::OrphanMemoryPressure,
       [] { return local_case(reset_sent(RstReason::TcpAbortOnMemory, tcp::kClose, 3, true)); },
       "the kernel reset a connection already closed by its owner because of too many orphaned "
       "sockets or TCP memory pressure."},
      {Cause::FinWait2Timeout,
       [] { return local_case(reset_sent(RstReason::TcpAbortOnLinger, tcp::kClose, 3, true)); },
       "the closed connection waited in FIN_WAIT2 for the peer's FIN longer than allowed; the "
       "kernel reset it."},
      {Cause::KeepaliveTimeout,
       [] { return local_case(reset_sent(RstReason::TcpKeepaliveTimeout, tcp::kClose)); },
       "keepalive probes on the idle connection went unanswered; the kernel gave up and reset it."},
      {Cause::ProtocolViolation,
       [] { return local_case(reset_sent(RstReason::TcpRfc7323Paws, tcp::kEstablished)); },
       "the peer sent a segment that did not fit the connection (TCP_RFC7323_PAWS); the kernel "
       "answered with RST."},
      {Cause::KeepaliveRace,
       [] {
         RstEvidence d = socket_evidence(/*send*/ 30, /*recv*/ 30 + 90'200, /*ack*/ 29, /*unacked*/ 0);
         return remote_case(d);
       },
       "the connection had been idle 90.20 s when cli[8] sent a request; 10.0.0.1:80 acknowledged "
       "it and reset the connection 30 ms later without answering: its idle timeout closed the "
       "connection as the request arrived. 90 s idle matches a common default of 90 s (Go "
       "net/http Transport.IdleConnTimeout) - a hint, not proof."},
      {Cause::PeerAborted,
       [] {
         RstEvidence d = socket_evidence(60, 61, 30, 0);
         d.bytes_acked = 1101;  // + our SYN
         d.bytes_received = 0;
         return remote_case(d);
       },
       "10.0.0.1:80 reset the connection without closing it first (no FIN): its application "
       "closed with data unread, used SO_LINGER {1, 0}, or died. It had acknowledged 1,100 bytes "
       "of ours (all we sent) and never sent anything."},
      {Cause::RemoteUnknown,
       [] { return remote_case(RstEvidence{}); },
       "the RST came from 10.0.0.1:80, which is not traced on this host; missing evidence: "
       "socket state at the RST (journal from an older connreset)."},
  };
}

TEST(CauseCatalog, EveryCauseHasATestedSentence) {
  const std::vector<Expected> cases = every_cause();
  std::set<Cause> covered;
  for (const Expected& e : cases) covered.insert(e.cause);
  for (Cause c : kAllCauses) EXPECT_TRUE(covered.count(c)) << "no sentence test for " << c;
}

TEST(CauseCatalog, EachCauseExplainsItselfWordForWord) {
  for (const Expected& e : every_cause()) {
    SCOPED_TRACE(cause_id(e.cause));
    const Explanation x = explain(e.make());
    ASSERT_EQ(x.cause, e.cause);
    EXPECT_EQ(x.because, e.because);
    EXPECT_EQ(x.advice, cause_info(e.cause).advice);
    EXPECT_EQ(x.kernel_path, cause_info(e.cause).kernel_path);
    EXPECT_FALSE(x.advice.empty());
    EXPECT_EQ(x.because.find('\n'), std::string::npos);
  }
}

TEST(CauseCatalog, UnreadDataAtCloseSaysWhenTheCloserDied) {
  ResetCase c = local_case(abort_on_close(1, kServer, kSrv, 1));
  c.closer = CloseInfo{kSrv, "exit", true, 1};
  EXPECT_EQ(explain(c).because,
            "srv[7] died (killed, crashed or exit() without close) holding 1 unread byte; the "
            "kernel closed its socket. Linux answers a close with unread data with RST instead of "
            "FIN and discards that data (RFC 2525 2.17).");
}

}  // namespace
}  // namespace connreset
