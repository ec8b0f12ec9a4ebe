#include "correlate/correlator.h"

#include <gtest/gtest.h>

#include "explain/explainer.h"
#include "unit/event_builder.h"

namespace connreset {
namespace {

using namespace connreset::testing;

class Collect : public CorrelatorOutput {
 public:
  void on_reset(const ResetCase& r) override { resets.push_back(r); }
  void on_lifecycle(const LifecycleEvent& ev) override { lifecycle.push_back(ev); }
  std::vector<ResetCase> resets;
  std::vector<LifecycleEvent> lifecycle;
};

class CorrelatorTest : public ::testing::Test {
 protected:
  Collect out;
  CorrelatorOptions opts;
  const TaskRef server = task(4100, "python3");
  const TaskRef client = task(4121, "curl");
  // the two sockets of one loopback connection
  const Conn server_sock{11, ep(18081), ep(46252)};
  const Conn client_sock{22, ep(46252), ep(18081)};

  void feed(Correlator& c, const std::vector<Event>& events) {
    for (const Event& e : events) c.on_event(e);
  }

  // server closed with 20,000 unread bytes; the client saw ECONNRESET: one reset, the close's
  void expect_one_reset_by_the_close(const Collect& got) const {
    ASSERT_EQ(got.resets.size(), 1u);
    const ResetCase& r = got.resets[0];
    EXPECT_EQ(classify(r), Cause::UnreadDataAtClose);
    ASSERT_TRUE(r.sender);
    EXPECT_EQ(r.sender->pid, server.pid);
    ASSERT_TRUE(r.receiver);
    EXPECT_EQ(r.receiver->pid, client.pid);
    ASSERT_EQ(r.observed.size(), 1u);
    EXPECT_EQ(r.observed[0].result(), "ECONNRESET");
    EXPECT_EQ(explain(r).unread_bytes, 20000u);
  }
};

TEST_F(CorrelatorTest, UnreadDataAtClose_BlamesTheCloserAndNamesTheReceiver) {
  Correlator c(opts, out);
  feed(c, {
              state(1 * kMs, client_sock, client, tcp::kClose, tcp::kSynSent),
              call(2 * kMs, server_sock, server, Call::Recv, Phase::Data, 100),
              call(3 * kMs, client_sock, client, Call::Recv, Phase::Data, 40),
              // loopback: the receiver's event comes first, in the sender's task
              rst_received(10 * kMs, client_sock, server),
              abort_on_close(10 * kMs + 500, server_sock, server, 1048576),
              call(11 * kMs, client_sock, client, Call::Recv, Phase::Error, -ECONNRESET),
          });
  c.tick(10 * kMs + opts.settle_ns + 1);
  ASSERT_EQ(out.resets.size(), 1u);
  const ResetCase& r = out.resets[0];
  EXPECT_EQ(classify(r), Cause::UnreadDataAtClose);
  ASSERT_TRUE(r.sender);
  EXPECT_EQ(r.sender->pid, 4100u);
  ASSERT_TRUE(r.receiver);
  EXPECT_EQ(r.receiver->pid, 4121u);
  EXPECT_EQ(r.receiver->comm, "curl");
  ASSERT_TRUE(r.closer);
  EXPECT_EQ(r.closer->kind, "close");
  EXPECT_FALSE(r.closer->exiting);
  EXPECT_EQ(r.local, ep(46252));
  EXPECT_EQ(r.remote, ep(18081));
  ASSERT_EQ(r.observed.size(), 1u);
  EXPECT_EQ(r.observed[0].result(), "ECONNRESET");
  EXPECT_EQ(r.observed[0].task.pid, 4121u);
  EXPECT_EQ(explain(r).unread_bytes, 1048576u);
}

TEST_F(CorrelatorTest, SendBeforeReceive_PairsTheSameWay) {
  Correlator c(opts, out);
  feed(c, {
              call(2 * kMs, client_sock, client, Call::Send, Phase::Data, 100),
              abort_on_close(10 * kMs, server_sock, server, 7),
              rst_received(10 * kMs + 100, client_sock, server),
          });
  c.flush();
  ASSERT_EQ(out.resets.size(), 1u);
  EXPECT_TRUE(out.resets[0].sent && out.resets[0].received);
  EXPECT_EQ(out.resets[0].receiver->pid, client.pid);
}

// close() with unread data unhashes the socket before its RST goes out: the client's segment
// in flight meets the listener, whose RST can reach the client first (seen in a 6.12 guest).
// One reset, blamed on the close, with the client as its receiver - in either order.
TEST_F(CorrelatorTest, ListenersRstForAJustClosedConnection_FoldsIntoTheClosersReset) {
  const Conn listener{33, ep(18081), ep(46252)};
  const TaskRef softirq = task(0, "swapper/1");
  for (const bool listener_first : {true, false}) {
    SCOPED_TRACE(listener_first ? "the listener's RST reaches the client" : "the socket's RST reaches the client");
    Collect got;
    Correlator c(opts, got);
    std::vector<Event> events = {state(1 * kMs, client_sock, client, tcp::kClose, tcp::kSynSent),
                                 call(2 * kMs, server_sock, server, Call::Recv, Phase::Data, 100)};
    if (listener_first) {
      events.push_back(rst_received(10 * kMs, client_sock, softirq));
      events.push_back(listener_reply(10 * kMs + 100, listener, softirq));
      events.push_back(call(10 * kMs + 200, client_sock, client, Call::Recv, Phase::Error, -ECONNRESET));
      events.push_back(abort_on_close(10 * kMs + 300, server_sock, server, 20000));
    } else {
      events.push_back(rst_received(10 * kMs, client_sock, server));
      events.push_back(abort_on_close(10 * kMs + 100, server_sock, server, 20000));
      events.push_back(call(10 * kMs + 200, client_sock, client, Call::Recv, Phase::Error, -ECONNRESET));
      events.push_back(listener_reply(11 * kMs, listener, softirq));
    }
    feed(c, events);
    c.tick(10 * kMs + 200 + 1);  // the client's error alone does not end the listener's case
    c.flush();
    expect_one_reset_by_the_close(got);
  }
}

// The same with the listener closed: the client's segment in flight meets no socket, and that
// RST reached the client first, before the close's own (seen on 5.10 kprobes). The client's
// ECONNRESET must not end the case before the close's RST arrives to take it over.
TEST_F(CorrelatorTest, NoSocketRstForAJustClosedConnection_FoldsIntoTheClosersReset) {
  const TaskRef softirq = task(0, "swapper/1");
  for (const bool stray_first : {true, false}) {
    SCOPED_TRACE(stray_first ? "the no-socket RST reaches the client" : "the socket's RST reaches the client");
    Collect got;
    Correlator c(opts, got);
    std::vector<Event> events = {state(1 * kMs, client_sock, client, tcp::kClose, tcp::kSynSent),
                                 call(2 * kMs, server_sock, server, Call::Recv, Phase::Data, 100)};
    const Event stray = no_socket_reply(10 * kMs + 100, ep(18081), ep(46252), tcp::kSegAck, softirq);
    if (stray_first) {
      events.push_back(rst_received(10 * kMs, client_sock, softirq));
      events.push_back(stray);
      events.push_back(call(10 * kMs + 200, client_sock, client, Call::Recv, Phase::Error, -ECONNRESET));
    }
    for (const Event& e : events) c.on_event(e);
    events.clear();
    c.tick(10 * kMs + 300);  // the client has its error; the close's RST is not in yet
    if (stray_first) {
      events.push_back(abort_on_close(10 * kMs + 400, server_sock, server, 20000));
    } else {
      events.push_back(rst_received(10 * kMs, client_sock, server));
      events.push_back(abort_on_close(10 * kMs + 100, server_sock, server, 20000));
      events.push_back(call(10 * kMs + 200, client_sock, client, Call::Recv, Phase::Error, -ECONNRESET));
      events.push_back(no_socket_reply(11 * kMs, ep(18081), ep(46252), tcp::kSegAck, softirq));
    }
    for (const Event& e : events) c.on_event(e);
    c.flush();
    expect_one_reset_by_the_close(got);
  }
}

// Without a socket of its own resetting the connection, a listener's RST is a reset of its own.
TEST_F(CorrelatorTest, ListenersRstAlone_StaysItsOwnReset) {
  const Conn listener{33, ep(18081), ep(46252)};
  Correlator c(opts, out);
  feed(c, {
              call(2 * kMs, client_sock, client, Call::Recv, Phase::Data, 40),
              rst_received(10 * kMs, client_sock, client),
              listener_reply(10 * kMs + 100, listener, client),
              abort_on_close(10 * kMs + opts.pair_window_ns + 2 * kMs, server_sock, server, 5),
          });
  c.flush();
  ASSERT_EQ(out.resets.size(), 2u) << "a close outside the pair window is another reset";
  EXPECT_EQ(classify(out.resets[0]), Cause::ProtocolViolation);
  EXPECT_TRUE(out.resets[0].receiver);
}

// A storm: every reset of the settle window is pending at once, both ends
// arriving in opposite orders. Each must pair with its own mirror, and the
// client's ECONNRESET must land on its own case only.
TEST_F(CorrelatorTest, ManyPendingResets_EachPairsWithItsOwnMirror) {
  Correlator c(opts, out);
  constexpr uint16_t kN = 500;
  for (uint16_t i = 0; i < kN; ++i) {
    const Conn srv{1000u + i, ep(18081), ep(static_cast<uint16_t>(40000 + i))};
    feed(c, {abort_on_close(10 * kMs + i, srv, server, i + 1u)});
  }
  for (uint16_t j = 0; j < kN; ++j) {
    const uint16_t i = static_cast<uint16_t>(kN - 1 - j);
    const Conn cli{5000u + i, ep(static_cast<uint16_t>(40000 + i)), ep(18081)};
    feed(c, {rst_received(10 * kMs + i + 50, cli, server),
             call(11 * kMs + i, cli, client, Call::Recv, Phase::Error, -ECONNRESET)});
  }
  c.tick(12 * kMs);  // every case has both ends and the error: none waits for settle
  ASSERT_EQ(out.resets.size(), kN);
  for (const ResetCase& r : out.resets) {
    ASSERT_TRUE(r.sent && r.received);
    EXPECT_EQ(r.sent->local, r.received->remote);
    EXPECT_EQ(r.sent->remote, r.received->local);
    EXPECT_EQ(r.sent->cookie - 1000, r.received->cookie - 5000);
    ASSERT_EQ(r.observed.size(), 1u);
    EXPECT_EQ(explain(r).unread_bytes, r.sent->cookie - 1000 + 1);
  }
}

TEST_F(CorrelatorTest, PendingResetsAreBounded_OldestReportedEarly) {
  opts.max_pending = 4;
  Correlator c(opts, out);
  for (uint16_t i = 0; i < 6; ++i) {
    const Conn cli{100u + i, ep(static_cast<uint16_t>(41000 + i)), ep(18081)};
    feed(c, {rst_received(10 * kMs + i, cli, server)});
  }
  ASSERT_EQ(out.resets.size(), 2u);  // reported before their settle time to make room
  EXPECT_EQ(out.resets[0].received->cookie, 100u);
  EXPECT_EQ(out.resets[1].received->cookie, 101u);
  EXPECT_EQ(c.stats().pending_dropped, 2u);
  // the evicted cases are gone from the indexes too: a late sender opens a case of its own
  feed(c, {abort_on_close(10 * kMs + 7, Conn{900, ep(18081), ep(41000)}, server, 3)});
  c.flush();
  ASSERT_EQ(out.resets.size(), 7u);
  EXPECT_FALSE(out.resets.back().received.has_value() && out.resets.back().sent.has_value());
}

TEST_F(CorrelatorTest, SoftirqCurrent_IsNeverTakenAsTheReceiver) {
  // the only thing known about the client socket is an RST processed while
  // the *server* was current: the receiver must stay unknown, not "python3"
  Correlator c(opts, out);
  feed(c, {rst_received(10 * kMs, client_sock, server)});
  c.flush();
  ASSERT_EQ(out.resets.size(), 1u);
  EXPECT_FALSE(out.resets[0].receiver.has_value());
  EXPECT_EQ(classify(out.resets[0]), Cause::RemoteUnknown);
}

TEST_F(CorrelatorTest, ResetIsHeldUntilSettleTimeThenReported) {
  Correlator c(opts, out);
  feed(c, {rst_received(10 * kMs, client_sock, server)});
  c.tick(10 * kMs + opts.settle_ns - 1);
  EXPECT_TRUE(out.resets.empty());
  c.tick(10 * kMs + opts.settle_ns);
  EXPECT_EQ(out.resets.size(), 1u);
}

TEST_F(CorrelatorTest, EarlyReport_WhenBothEndsAndTheErrorAreSeen) {
  Correlator c(opts, out);
  feed(c, {
              rst_received(10 * kMs, client_sock, server),
              abort_on_close(10 * kMs, server_sock, server, 5),
              call(12 * kMs, client_sock, client, Call::Recv, Phase::Error, -ECONNRESET),
          });
  c.tick(13 * kMs);  // long before settle_ns
  EXPECT_EQ(out.resets.size(), 1u);
}

TEST_F(CorrelatorTest, AddressReuse_SameTupleLater_IsASeparateConnection) {
  Correlator c(opts, out);
  const TaskRef server2 = task(5000, "nginx");
  const TaskRef client2 = task(5001, "wget");
  const Conn server_sock2{33, ep(18081), ep(46252)};
  const Conn client_sock2{44, ep(46252), ep(18081)};
  feed(c, {
              state(1 * kMs, client_sock, client, tcp::kClose, tcp::kSynSent),
              rst_received(10 * kMs, client_sock, server),
              abort_on_close(10 * kMs, server_sock, server, 1),
          });
  c.tick(10 * kMs + opts.settle_ns);
  feed(c, {
              state(5000 * kMs, client_sock2, client2, tcp::kClose, tcp::kSynSent),
              call(5001 * kMs, server_sock2, server2, Call::Recv, Phase::Data, 10),
              rst_received(5010 * kMs, client_sock2, server2),
              linger_zero_close(5010 * kMs, server_sock2, server2),
          });
  c.flush();
  ASSERT_EQ(out.resets.size(), 2u);
  EXPECT_EQ(classify(out.resets[0]), Cause::UnreadDataAtClose);
  EXPECT_EQ(out.resets[0].receiver->pid, client.pid);
  EXPECT_EQ(classify(out.resets[1]), Cause::LingerZeroClose);
  EXPECT_EQ(out.resets[1].sender->pid, server2.pid);
  EXPECT_EQ(out.resets[1].receiver->pid, client2.pid);
}

// Kprobe plans key sockets by kernel address. Seen on a slow 5.10 VM: a server closed with
// unread data (reset 1), its socket was freed, and the next scenario's client socket got the
// same address before reset 1 was reported; that client's ECONNRESET and exit were taken as
// reset 1's observation and closer. A connect() at a known key starts a new socket.
TEST_F(CorrelatorTest, SocketAddressReusedWhileAResetIsPending_OldAndNewSocketsStayApart) {
  Correlator c(opts, out);
  const TaskRef server2 = task(5000, "cr-server");
  const TaskRef client2 = task(5001, "cr-client");
  const uint64_t addr = 0xffff888004a1c000;  // reset 1's server socket, then client2's
  const Conn srv{addr, ep(18081), ep(46252)};
  const Conn cli{0xffff888004a1d000, ep(46252), ep(18081)};
  const Conn srv2{0xffff888004a1e000, ep(18082), ep(51000)};
  const Conn cli2{addr, ep(51000), ep(18082)};
  TaskRef kernel = task(0, "swapper/1");
  Event exit_close = base(EventType::Close, 0, cli2, client2);
  exit_close.task_exiting = true;
  exit_close.shutdown = tcp::kShutdownBoth;
  exit_close.ts_ns = 80 * kMs;
  feed(c, {
              state(1 * kMs, cli, client, tcp::kClose, tcp::kSynSent),
              state(2 * kMs, srv, kernel, tcp::kSynRecv, tcp::kEstablished),
              call(3 * kMs, srv, server, Call::Recv, Phase::Data, 100),
              rst_received(10 * kMs, cli, server),
              abort_on_close(10 * kMs + 500, srv, server, 4096),
              state(10 * kMs + 600, srv, server, tcp::kEstablished, tcp::kClose),
              // the server's socket is freed; client2's connect() gets its address
              state(40 * kMs, cli2, client2, tcp::kClose, tcp::kSynSent),
              state(41 * kMs, srv2, kernel, tcp::kSynRecv, tcp::kEstablished),
              call(42 * kMs, srv2, server2, Call::Recv, Phase::Data, 100),
              rst_received(50 * kMs, cli2, server2),
              abort_on_close(50 * kMs + 500, srv2, server2, 4096),
              call(60 * kMs, cli2, client2, Call::Recv, Phase::Error, -ECONNRESET),
              exit_close,  // client2 exits
          });
  c.tick(10 * kMs + opts.settle_ns + 1);  // reset 1 is reported only now (reset 2 with it: settled)
  ASSERT_EQ(out.resets.size(), 2u);
  const ResetCase& r1 = out.resets[0];
  EXPECT_EQ(r1.remote, ep(18081));
  ASSERT_TRUE(r1.sender && r1.closer);
  EXPECT_EQ(r1.sender->pid, server.pid);
  EXPECT_EQ(r1.closer->task.pid, server.pid);
  EXPECT_EQ(r1.closer->kind, "close");
  EXPECT_FALSE(r1.closer->exiting);
  for (const Observation& o : r1.observed) EXPECT_NE(o.task.pid, client2.pid) << "client2's recv() is not reset 1's";
  const ResetCase& r2 = out.resets[1];
  EXPECT_EQ(r2.remote, ep(18082));
  ASSERT_TRUE(r2.sender && r2.receiver && r2.closer);
  EXPECT_EQ(r2.sender->pid, server2.pid);
  EXPECT_EQ(r2.receiver->pid, client2.pid);
  EXPECT_EQ(r2.closer->task.pid, server2.pid);
  ASSERT_EQ(r2.observed.size(), 1u);
  EXPECT_EQ(r2.observed[0].task.pid, client2.pid);
  EXPECT_EQ(c.stats().sockets_tracked, 3u) << "the retired generation goes with its reset";
}

// The same on a 5.10 VM with the next scenario's listener at the address: listeners send no
// state changes, so their close() (here at exit) is the first event of theirs seen.
TEST_F(CorrelatorTest, ListenerAtAReusedAddress_ItsCloseAtExitIsNotTheEarlierResetsCloser) {
  Correlator c(opts, out);
  const TaskRef server2 = task(5000, "cr-server");
  const uint64_t addr = 0xffff888004a1c000;
  const Conn srv{addr, ep(18081), ep(46252)};
  const Conn listener{addr, ep(18082), Endpoint::ipv4(0, 0)};
  const TaskRef kernel = task(0, "swapper/1");
  Event listener_close = base(EventType::Close, 40 * kMs, listener, server2);
  listener_close.state = tcp::kListen;
  listener_close.task_exiting = true;
  listener_close.shutdown = tcp::kShutdownBoth;
  feed(c, {
              state(1 * kMs, client_sock, client, tcp::kClose, tcp::kSynSent),
              state(2 * kMs, srv, kernel, tcp::kSynRecv, tcp::kEstablished),
              call(3 * kMs, srv, server, Call::Recv, Phase::Data, 100),
              rst_received(10 * kMs, client_sock, server),
              abort_on_close(10 * kMs + 500, srv, server, 4096),
              state(10 * kMs + 600, srv, server, tcp::kEstablished, tcp::kClose),
              listener_close,
          });
  c.tick(10 * kMs + opts.settle_ns + 1);
  ASSERT_EQ(out.resets.size(), 1u);
  ASSERT_TRUE(out.resets[0].sender && out.resets[0].closer);
  EXPECT_EQ(out.resets[0].sender->pid, server.pid);
  EXPECT_EQ(out.resets[0].closer->task.pid, server.pid);
  EXPECT_FALSE(out.resets[0].closer->exiting);
}

// A received RST closes the socket at once (the kernel may leave out its X -> CLOSE); when that
// state change does arrive, it is the same socket, not a new one at the key.
TEST_F(CorrelatorTest, StateChangeToCloseAfterAReceivedRst_IsTheSameSocket) {
  Correlator c(opts, out);
  feed(c, {
              state(1 * kMs, client_sock, client, tcp::kClose, tcp::kSynSent),
              rst_received(10 * kMs, client_sock, server),
              state(10 * kMs + 100, client_sock, server, tcp::kEstablished, tcp::kClose),
              abort_on_close(10 * kMs + 500, server_sock, server, 4096),
              call(11 * kMs, client_sock, client, Call::Recv, Phase::Error, -ECONNRESET),
          });
  c.tick(11 * kMs);  // both ends and the error: reported at once
  ASSERT_EQ(out.resets.size(), 1u);
  ASSERT_TRUE(out.resets[0].receiver);
  EXPECT_EQ(out.resets[0].receiver->pid, client.pid);
  ASSERT_EQ(out.resets[0].observed.size(), 1u);
  EXPECT_EQ(out.resets[0].observed[0].result(), "ECONNRESET");
}

// The other way: an accepted socket at a reused address (kprobe plans see its birth only as
// SYN_RECV -> ESTABLISHED) inherits nothing from the address's last socket, even one whose
// close was never seen (lost events).
TEST_F(CorrelatorTest, AcceptedSocketAtAReusedAddress_InheritsNoOwnerOrClose) {
  Correlator c(opts, out);
  const uint64_t addr = 0xffff888004a1c000;
  const Conn old_sock{addr, ep(9000), ep(40000)};
  const Conn child{addr, ep(18081), ep(46252)};
  const TaskRef old_owner = task(7000, "old-daemon");
  const TaskRef kernel = task(0, "swapper/0");
  feed(c, {
              state(1 * kMs, old_sock, old_owner, tcp::kClose, tcp::kSynSent),
              call(2 * kMs, old_sock, old_owner, Call::Recv, Phase::Data, 10),
              state(3 * kMs, old_sock, old_owner, tcp::kEstablished, tcp::kFinWait1, tcp::kShutdownBoth),
              // ... its last events were lost; the address now holds an accepted socket
              state(20 * kMs, client_sock, client, tcp::kClose, tcp::kSynSent),
              state(21 * kMs, child, kernel, tcp::kSynRecv, tcp::kEstablished),
              // the client aborts (linger 0): the child receives the RST, nobody owns it yet
              linger_zero_close(30 * kMs, client_sock, client),
              rst_received(30 * kMs + 100, child, client),
          });
  c.flush();
  ASSERT_EQ(out.resets.size(), 1u);
  const ResetCase& r = out.resets[0];
  EXPECT_FALSE(r.receiver) << "the old socket's owner leaked into the new one: " << r.receiver->comm;
  ASSERT_TRUE(r.sender);
  EXPECT_EQ(r.sender->pid, client.pid);
}

// With cookies (tracepoint/fentry plans) a key is reused only by connect() again on the same
// socket after a refused one: the refused attempt keeps what it saw.
TEST_F(CorrelatorTest, ConnectAgainAfterRefused_IsANewLifecycle_TheRefusedCaseKeepsItsOwner) {
  Correlator c(opts, out);
  const TaskRef other = task(4200, "reconnector");
  feed(c, {
              state(1 * kMs, client_sock, client, tcp::kClose, tcp::kSynSent),
              no_socket_reply(2 * kMs, ep(18081), ep(46252), tcp::kSegSyn, client),
              rst_received(2 * kMs + 100, client_sock, client, tcp::kSynSent),
              state(2 * kMs + 200, client_sock, client, tcp::kSynSent, tcp::kClose),
              // the fd was passed on; another task connects the same socket again
              state(3 * kMs, client_sock, other, tcp::kClose, tcp::kSynSent),
          });
  c.flush();
  ASSERT_EQ(out.resets.size(), 1u);
  ASSERT_TRUE(out.resets[0].receiver);
  EXPECT_EQ(out.resets[0].receiver->pid, client.pid);
}

TEST_F(CorrelatorTest, SameTupleInTwoNetns_PairsWithinEachNamespace) {
  Correlator c(opts, out);
  constexpr uint32_t kOtherNs = 4026532999;
  const TaskRef a_server = task(100, "srv-a"), a_client = task(101, "cli-a");
  const TaskRef b_server = task(200, "srv-b"), b_client = task(201, "cli-b");
  const Conn a_srv{1, ep(80), ep(5555)}, a_cli{2, ep(5555), ep(80)};
  const Conn b_srv{3, ep(80), ep(5555), kOtherNs}, b_cli{4, ep(5555), ep(80), kOtherNs};
  feed(c, {
              state(1 * kMs, a_cli, a_client, tcp::kClose, tcp::kSynSent),
              state(1 * kMs, b_cli, b_client, tcp::kClose, tcp::kSynSent),
              // interleaved: both receivers first, then the senders in the other order
              rst_received(10 * kMs, a_cli, a_server),
              rst_received(10 * kMs + 10, b_cli, b_server),
              linger_zero_close(10 * kMs + 20, b_srv, b_server),
              abort_on_close(10 * kMs + 30, a_srv, a_server, 9),
          });
  c.flush();
  ASSERT_EQ(out.resets.size(), 2u);
  for (const ResetCase& r : out.resets) {
    ASSERT_TRUE(r.sent && r.received);
    EXPECT_EQ(r.sent->netns, r.received->netns);
    if (r.netns == kOtherNs) {
      EXPECT_EQ(classify(r), Cause::LingerZeroClose);
      EXPECT_EQ(r.receiver->comm, "cli-b");
      EXPECT_EQ(r.sender->comm, "srv-b");
    } else {
      EXPECT_EQ(classify(r), Cause::UnreadDataAtClose);
      EXPECT_EQ(r.receiver->comm, "cli-a");
      EXPECT_EQ(r.sender->comm, "srv-a");
    }
  }
}

TEST_F(CorrelatorTest, ConnectionRefused_NoSenderProcess_ReceiverFromConnect) {
  Correlator c(opts, out);
  const Conn cli{22, ep(40000), ep(9)};
  feed(c, {
              state(1 * kMs, cli, client, tcp::kClose, tcp::kSynSent),
              // the SYN's reply RST: sent by the stack, in the client's own softirq
              no_socket_reply(2 * kMs, ep(9), ep(40000), tcp::kSegSyn, client),
              rst_received(2 * kMs + 10, cli, client, tcp::kSynSent),
          });
  c.flush();
  ASSERT_EQ(out.resets.size(), 1u);
  const ResetCase& r = out.resets[0];
  EXPECT_EQ(classify(r), Cause::ConnectionRefused);
  EXPECT_FALSE(r.sender.has_value());
  ASSERT_TRUE(r.receiver);
  EXPECT_EQ(r.receiver->pid, client.pid);
  ASSERT_FALSE(r.observed.empty());
  EXPECT_EQ(r.observed[0].call, ObservedCall::Connect);
  EXPECT_EQ(r.observed[0].result(), "ECONNREFUSED");
}

TEST_F(CorrelatorTest, SendsOutsideThePairWindow_DoNotPair) {
  opts.pair_window_ns = 100 * kMs;
  opts.settle_ns = 10'000 * kMs;
  Correlator c(opts, out);
  feed(c, {
              rst_received(10 * kMs, client_sock, server),
              abort_on_close(500 * kMs, server_sock, server, 1),
          });
  c.flush();
  EXPECT_EQ(out.resets.size(), 2u);
}

TEST_F(CorrelatorTest, SharedSocketAfterFork_BlamesTheTaskThatClosed) {
  // parent accepted, child handled and closed: both used the socket
  Correlator c(opts, out);
  const TaskRef parent = task(300, "master"), child = task(301, "worker");
  feed(c, {
              call(1 * kMs, server_sock, parent, Call::Recv, Phase::Data, 10),
              call(2 * kMs, server_sock, child, Call::Recv, Phase::Data, 10),
              rst_received(10 * kMs, client_sock, child),
              abort_on_close(10 * kMs, server_sock, child, 3),
          });
  c.flush();
  ASSERT_EQ(out.resets.size(), 1u);
  EXPECT_EQ(out.resets[0].closer->task.pid, child.pid);
  EXPECT_EQ(out.resets[0].sender->pid, child.pid);
}

TEST_F(CorrelatorTest, KilledProcess_CloserIsMarkedExiting) {
  Correlator c(opts, out);
  Event rst = abort_on_close(10 * kMs, server_sock, server, 20);
  rst.task_exiting = true;
  feed(c, {rst_received(10 * kMs, client_sock, server), rst});
  c.flush();
  ASSERT_EQ(out.resets.size(), 1u);
  ASSERT_TRUE(out.resets[0].closer);
  EXPECT_TRUE(out.resets[0].closer->exiting);
  EXPECT_EQ(out.resets[0].closer->kind, "exit");
  EXPECT_NE(explain(out.resets[0]).because.find("died"), std::string::npos);
}

TEST_F(CorrelatorTest, SocketTableIsBounded_EvictionsCounted) {
  opts.max_sockets = 100;
  Correlator c(opts, out);
  for (uint64_t i = 1; i <= 1000; ++i) {
    c.on_event(call(i, Conn{i, ep(1000), ep(2000)}, client, Call::Recv, Phase::Data, 1));
  }
  EXPECT_LE(c.stats().sockets_tracked, 100u);
  EXPECT_EQ(c.stats().sockets_evicted, 900u);
}

TEST_F(CorrelatorTest, ClosedSocketsExpireAfterGrace) {
  opts.closed_grace_ns = 100 * kMs;
  Correlator c(opts, out);
  c.on_event(state(1 * kMs, client_sock, client, tcp::kClose, tcp::kSynSent));
  c.on_event(state(2 * kMs, client_sock, client, tcp::kFinWait2, tcp::kClose));
  c.tick(50 * kMs);
  EXPECT_EQ(c.stats().sockets_tracked, 1u);
  c.tick(200 * kMs);
  EXPECT_EQ(c.stats().sockets_tracked, 0u);
}

// The kernel's quiet path leaves out the close that follows a received RST (tcp_reset() always
// ends in tcp_done()): the socket must still count as closed and expire, or a storm's sockets
// would stay until the LRU bound. Its earlier state is still the sender-side prev_state.
TEST_F(CorrelatorTest, ResetReceived_ClosesTheSocketWithoutAStateRecord) {
  opts.closed_grace_ns = 100 * kMs;
  opts.settle_ns = 10 * kMs;
  Correlator c(opts, out);
  c.on_event(state(1 * kMs, client_sock, client, tcp::kClose, tcp::kSynSent));
  c.on_event(rst_received(2 * kMs, client_sock, server));
  c.tick(50 * kMs);
  ASSERT_EQ(out.resets.size(), 1u);
  EXPECT_EQ(c.stats().sockets_tracked, 1u);
  c.tick(200 * kMs);
  EXPECT_EQ(c.stats().sockets_tracked, 0u);
}

// The quiet path leaves out the close that announces an RST (__tcp_close with unread data sets
// CLOSE, then sends): the RESET_SENT record carries the state it closed from. The socket counts
// as closed and expires, and its earlier state is the sender's prev_state, as with the record.
TEST_F(CorrelatorTest, ResetSentWithItsCloseFolded_ClosesTheSocketAndKeepsThePreviousState) {
  opts.closed_grace_ns = 100 * kMs;
  opts.settle_ns = 10 * kMs;
  for (const bool folded : {true, false}) {
    out.resets.clear();
    Correlator c(opts, out);
    Event sent = abort_on_close(2 * kMs, server_sock, server, 64);
    if (folded) {
      sent.old_state = tcp::kFinWait2;
    } else {  // the same close as a state change (older journals, trace --all)
      c.on_event(state(2 * kMs - 10, server_sock, server, tcp::kFinWait2, tcp::kClose, tcp::kShutdownBoth));
    }
    c.on_event(sent);
    c.tick(50 * kMs);
    ASSERT_EQ(out.resets.size(), 1u);
    EXPECT_EQ(out.resets[0].sender_prev_state, tcp::kFinWait2) << "folded " << folded;
    EXPECT_EQ(c.stats().sockets_tracked, 1u);
    c.tick(200 * kMs);
    EXPECT_EQ(c.stats().sockets_tracked, 0u) << "closed and expired, folded " << folded;
  }
}

// An active RST that tcp_done() follows (ss -K, a keepalive timeout): the kernel's quiet path
// leaves out the X -> CLOSE after it and the RESET_SENT record says so (closes_after). The case
// is the same as with the state change: the sender's previous state is the one before the RST,
// the socket counts as closed and expires, and a close arriving anyway changes nothing.
TEST_F(CorrelatorTest, ResetSentBeforeItsCloseFolded_SameCaseAsWithTheStateChange) {
  opts.closed_grace_ns = 100 * kMs;
  opts.settle_ns = 10 * kMs;
  const TaskRef killer = task(5000, "ss");
  for (const int form : {0, 1, 2}) {  // folded; the state change (trace --all); both
    out.resets.clear();
    Correlator c(opts, out);
    c.on_event(state(1 * kMs, client_sock, client, tcp::kClose, tcp::kSynSent));
    c.on_event(state(1 * kMs + 10, client_sock, client, tcp::kSynSent, tcp::kEstablished));
    Event sent = base(EventType::ResetSent, 2 * kMs, client_sock, killer);
    sent.reason = RstReason::TcpState;
    sent.active = true;
    sent.state = tcp::kEstablished;
    sent.closes_after = form != 1;
    c.on_event(sent);
    if (form != 0) c.on_event(state(2 * kMs + 10, client_sock, killer, tcp::kEstablished, tcp::kClose));
    c.tick(50 * kMs);
    ASSERT_EQ(out.resets.size(), 1u) << "form " << form;
    EXPECT_EQ(out.resets[0].sender_prev_state, tcp::kSynSent) << "form " << form;
    ASSERT_TRUE(out.resets[0].sender) << "form " << form;
    EXPECT_EQ(out.resets[0].sender->pid, client.pid) << "form " << form;
    EXPECT_EQ(c.stats().sockets_tracked, 1u) << "form " << form;
    c.tick(200 * kMs);
    EXPECT_EQ(c.stats().sockets_tracked, 0u) << "closed and expired, form " << form;
  }
}

// The quiet path keeps an accepted connection's set-up and the peer's FIN in the socket's
// storage and puts them on the RESET_RECEIVED record: the remote-peer evidence (age, FIN before
// the RST) is the same as from the state changes themselves.
TEST_F(CorrelatorTest, ResetReceivedCarriesSetUpAndFin_SameEvidenceAsTheStateRecords) {
  opts.settle_ns = 10 * kMs;
  const Conn accepted{33, ep(8080), ep(50000, 0x0a000002)};
  std::vector<ResetCase> got;
  for (const bool folded : {true, false}) {
    out.resets.clear();
    Correlator c(opts, out);
    Event rst = rst_received(900 * kMs, accepted, client, tcp::kCloseWait);
    if (folded) {
      rst.evidence.opened_ns = 100 * kMs;
      rst.evidence.fin_ns = 400 * kMs;
    } else {
      c.on_event(state(100 * kMs, accepted, client, tcp::kSynRecv, tcp::kEstablished));
      c.on_event(state(400 * kMs, accepted, client, tcp::kEstablished, tcp::kCloseWait));
    }
    c.on_event(rst);
    c.tick(950 * kMs);
    ASSERT_EQ(out.resets.size(), 1u);
    got.push_back(out.resets[0]);
  }
  EXPECT_EQ(got[0].receiver_opened_ns, 100 * kMs);
  EXPECT_EQ(got[0].receiver_fin_ns, 400 * kMs);
  EXPECT_EQ(got[0].receiver_opened_ns, got[1].receiver_opened_ns);
  EXPECT_EQ(got[0].receiver_fin_ns, got[1].receiver_fin_ns);
}

// The quiet path keeps a client's connect() in the socket's storage and, when an RST arrives
// before anything else of the client's was written, puts it on the RESET_RECEIVED record
// (evidence.connect: its task fields are the connecting task, opened_ns the connect's time)
// instead of writing it first. The case is the same as with the connect() record: the receiver
// is the connecting task (not the task that delivered the RST), the connection's age is known,
// a refused connect() is observed as ECONNREFUSED by it.
TEST_F(CorrelatorTest, ResetReceivedCarriesTheConnect_SameCaseAsTheConnectRecord) {
  opts.settle_ns = 10 * kMs;
  for (const uint8_t at : {tcp::kEstablished, tcp::kSynSent}) {
    std::vector<ResetCase> got;
    for (const bool carried : {true, false}) {
      out.resets.clear();
      Correlator c(opts, out);
      Event rst = rst_received(900 * kMs, client_sock, server, at);
      if (carried) {
        rst.task = client;
        rst.evidence.connect = true;
        rst.evidence.opened_ns = 100 * kMs;
      } else {
        c.on_event(state(100 * kMs, client_sock, client, tcp::kClose, tcp::kSynSent));
      }
      c.on_event(rst);
      c.tick(950 * kMs);
      ASSERT_EQ(out.resets.size(), 1u);
      got.push_back(out.resets[0]);
    }
    ASSERT_TRUE(got[0].receiver);
    EXPECT_EQ(got[0].receiver->pid, client.pid);
    EXPECT_EQ(got[0].receiver_opened_ns, 100 * kMs);
    ASSERT_TRUE(got[1].receiver);
    EXPECT_EQ(got[0].receiver->pid, got[1].receiver->pid);
    EXPECT_EQ(got[0].receiver_opened_ns, got[1].receiver_opened_ns);
    EXPECT_EQ(got[0].observed.size(), got[1].observed.size());
    if (at == tcp::kSynSent) {
      ASSERT_FALSE(got[0].observed.empty());
      EXPECT_EQ(got[0].observed[0].call, ObservedCall::Connect);
      EXPECT_EQ(got[0].observed[0].task.pid, client.pid);
    }
  }
}

// The quiet path keeps the owner's FIN (ESTABLISHED -> FIN_WAIT1 in its close()) and puts it
// on the socket's close record (FIN_WAIT2 -> CLOSE: fin.carried, its task fields the closing
// task's) instead of writing it. A later RST from the TIME_WAIT socket (the client wrote
// after the server closed) names the same closer, at the same time, as with the FIN record.
TEST_F(CorrelatorTest, CloseRecordCarriesTheFin_SameCaseAsTheFinRecord) {
  opts.settle_ns = 10 * kMs;
  std::vector<ResetCase> got;
  for (const bool carried : {true, false}) {
    out.resets.clear();
    Correlator c(opts, out);
    c.on_event(state(1 * kMs, server_sock, server, tcp::kSynRecv, tcp::kEstablished));
    Event close = state(300 * kMs, server_sock, client, tcp::kFinWait2, tcp::kClose);
    if (carried) {
      close.task = server;
      close.fin = CarriedFin{true, 200 * kMs, tcp::kEstablished, tcp::kFinWait1, tcp::kShutdownBoth};
    } else {
      c.on_event(state(200 * kMs, server_sock, server, tcp::kEstablished, tcp::kFinWait1, tcp::kShutdownBoth));
    }
    c.on_event(close);
    Event tw = base(EventType::ResetSent, 400 * kMs, server_sock, client);
    tw.timewait = true;
    tw.state = tcp::kTimeWait;
    tw.reason = RstReason::TcpTimewaitSocket;
    c.on_event(tw);
    c.on_event(rst_received(400 * kMs + 100, client_sock, client));
    c.tick(500 * kMs);
    ASSERT_EQ(out.resets.size(), 1u) << "carried " << carried;
    got.push_back(out.resets[0]);
  }
  for (const ResetCase& r : got) {
    EXPECT_EQ(classify(r), Cause::WriteAfterPeerClose);
    ASSERT_TRUE(r.closer);
    EXPECT_EQ(r.closer->task.pid, server.pid);
    EXPECT_EQ(r.closer->kind, "close");
    EXPECT_EQ(r.closer->ts_ns, 200 * kMs);
    EXPECT_TRUE(r.sender_had_closed);
    ASSERT_TRUE(r.sender);
    EXPECT_EQ(r.sender->pid, server.pid);
  }
  EXPECT_EQ(explain(got[0]).because, explain(got[1]).because);
}

// An older journal (or trace --all) still has the close as a state change after the RST: the
// socket is closed once, not twice.
TEST_F(CorrelatorTest, ResetReceivedThenCloseState_ClosedOnce) {
  opts.max_closed = 1;
  opts.settle_ns = 10 * kMs;
  Correlator c(opts, out);
  c.on_event(rst_received(2 * kMs, client_sock, server));
  c.on_event(state(2 * kMs + 10, client_sock, server, tcp::kEstablished, tcp::kClose));
  c.tick(50 * kMs);
  EXPECT_EQ(c.stats().sockets_tracked, 1u);
  EXPECT_EQ(c.stats().closed_evicted, 0u);
}

// A reset storm closes sockets faster than closed_grace_ns expires them: --max-closed bounds
// them, the oldest first, and open sockets are not touched.
TEST_F(CorrelatorTest, ClosedSocketsAreBoundedByCount_OldestFirst_OpenOnesKept) {
  opts.max_closed = 100;
  Correlator c(opts, out);
  const Conn open_sock{5'000'000, ep(3000), ep(4000)};
  c.on_event(state(1, open_sock, client, tcp::kSynSent, tcp::kEstablished));
  for (uint64_t i = 1; i <= 1000; ++i) {
    const Conn s{i, ep(1000), ep(static_cast<uint16_t>(2000 + i))};
    c.on_event(state(10 * i, s, client, tcp::kClose, tcp::kSynSent));
    c.on_event(state(10 * i + 1, s, client, tcp::kSynSent, tcp::kClose));
  }
  EXPECT_EQ(c.stats().sockets_tracked, 101u);  // the 100 most recently closed and the open one
  EXPECT_EQ(c.stats().closed_evicted, 900u);
  EXPECT_EQ(c.stats().sockets_evicted, 0u);
  c.tick(10'000 + 1);  // age expiry keeps what the count kept
  EXPECT_EQ(c.stats().sockets_tracked, 101u);
}

// A closed socket a pending reset refers to stays until the reset is reported.
TEST_F(CorrelatorTest, ClosedSocketOfAPendingReset_OutlivesTheCountBound) {
  opts.max_closed = 10;
  Correlator c(opts, out);
  feed(c, {
              state(1 * kMs, client_sock, client, tcp::kClose, tcp::kSynSent),
              state(2 * kMs, server_sock, server, tcp::kListen, tcp::kSynRecv),
              rst_received(10 * kMs, client_sock, server),
              abort_on_close(10 * kMs + 500, server_sock, server, 4096),
              state(10 * kMs + 600, server_sock, server, tcp::kFinWait1, tcp::kClose),
          });
  for (uint64_t i = 1; i <= 100; ++i) {
    const Conn s{1000 + i, ep(5000), ep(static_cast<uint16_t>(6000 + i))};
    c.on_event(state(11 * kMs + i, s, client, tcp::kSynSent, tcp::kClose));
  }
  EXPECT_LE(c.stats().sockets_tracked, 10u + 2u);  // + the two ends of the pending reset
  c.tick(10 * kMs + opts.settle_ns + 1);
  ASSERT_EQ(out.resets.size(), 1u);
  ASSERT_TRUE(out.resets[0].closer) << "the sender's closed socket was dropped while its reset was pending";
  ASSERT_TRUE(out.resets[0].sender);
  EXPECT_EQ(out.resets[0].sender->pid, 4100u);
}

TEST_F(CorrelatorTest, LifecycleEvents_OnlyWhenAsked) {
  Correlator quiet(opts, out);
  quiet.on_event(state(1 * kMs, client_sock, client, tcp::kClose, tcp::kSynSent));
  EXPECT_TRUE(out.lifecycle.empty());
  opts.lifecycle = true;
  Correlator loud(opts, out);
  loud.on_event(state(1 * kMs, client_sock, client, tcp::kClose, tcp::kSynSent));
  ASSERT_EQ(out.lifecycle.size(), 1u);
  EXPECT_EQ(out.lifecycle[0].owner->pid, client.pid);
}

}  // namespace
}  // namespace connreset
