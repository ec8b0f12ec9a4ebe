// RSTs whose other end is another host: a qemu guest with its own kernel
// (tests/remote/peer_vm.h) plays the server; this process is the traced
// client. Each case makes the peer reset the connection in one real way and
// checks the inferred cause, the evidence numbers, the receiver, and on the
// wire (a packet socket on the tap) that the RST really crossed it.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sys/wait.h>

#include <cerrno>
#include <cstdlib>
#include <cstdio>
#include <string>
#include <thread>

#include "common/clock.h"
#include "common/names.h"
#include "e2e/harness.h"
#include "remote/peer_vm.h"
#include "sinks/json_format.h"
#include "sinks/text_sink.h"

namespace connreset::remote {
namespace {

using namespace std::chrono_literals;

enum class Fam { V4, V6 };

std::string fam_name(Fam f) { return f == Fam::V4 ? "IPv4" : "IPv6"; }
const char* peer_addr(Fam f) { return f == Fam::V4 ? kPeerV4 : kPeerV6; }

// The traced side: a plain client socket in this process.
class Client {
 public:
  ~Client() { drop(); }
  std::string connect_to(Fam f, uint16_t port) {
    fd_ = socket(f == Fam::V4 ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int rc;
    if (f == Fam::V4) {
      sockaddr_in sa{};
      sa.sin_family = AF_INET;
      sa.sin_port = htons(port);
      inet_pton(AF_INET, kPeerV4, &sa.sin_addr);
      rc = connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
    } else {
      sockaddr_in6 sa{};
      sa.sin6_family = AF_INET6;
      sa.sin6_port = htons(port);
      inet_pton(AF_INET6, kPeerV6, &sa.sin6_addr);
      rc = connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
    }
    return rc == 0 ? "" : errno_name(errno);
  }
  bool send_all(size_t n, char fill = 'x') {
    const std::string data(n, fill);
    return send(fd_, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(n);
  }
  // what the next recv() returns: "data", "EOF", an errno name, or "timeout"
  std::string recv_result(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(timeout.count())) != 1) return "timeout";
    char buf[4096];
    const ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    if (n > 0) return "data";
    return n == 0 ? "EOF" : errno_name(errno);
  }
  std::string send_result(size_t n) {
    const std::string data(n, 'y');
    return send(fd_, data.data(), data.size(), MSG_NOSIGNAL) >= 0 ? "data" : errno_name(errno);
  }
  void abort_close() {
    linger l{1, 0};
    setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    drop();
  }
  void drop() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

class Remote : public e2e::LiveTest, public ::testing::WithParamInterface<Fam> {
 protected:
  Fam fam() const { return GetParam(); }
  // A port per test and family, so no two cases' events can meet.
  uint16_t port(uint16_t base) const { return static_cast<uint16_t>(base + (fam() == Fam::V6 ? 100 : 0)); }

  std::string serve(uint16_t p, const std::string& mode, long arg = 0) { return peer().serve(p, mode, arg); }

  // The reset on the port, printed as users see it (the closing note's table comes from these).
  Explanation traced(uint16_t p, const std::string& scenario) {
    const auto x = reset_on_port(p);
    if (!x) {
      ADD_FAILURE() << "no reset traced on port " << p;
      return Explanation{};
    }
    nlohmann::json line = reset_to_json(*x, ClockMap::now());
    std::printf("---- %s over %s\n%s%s\n", scenario.c_str(), fam_name(fam()).c_str(),
                render_text(*x, ClockMap::now()).c_str(), dump_line(line["evidence"]).c_str());
    line["host"] = "this-host";  // as the JSON sink writes it
    EXPECT_EQ(schema_check(dump_line(line)), 0) << dump_line(line);
    return *x;
  }
  // 0 when the reset's JSON line is valid under docs/schema (python3-jsonschema)
  static int schema_check(const std::string& line) {
    char path[] = "/tmp/connreset-remote-line-XXXXXX";
    const int fd = mkstemp(path);
    if (fd < 0) return 127;
    const std::string text = line + "\n";
    const bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    close(fd);
    const std::string cmd = std::string("python3 ") + CONNRESET_SOURCE_DIR + "/scripts/check_schema.py " +
                            CONNRESET_SOURCE_DIR + "/docs/schema/connreset-line.schema.json " + path +
                            " --require reset";
    const int rc = ok ? std::system(cmd.c_str()) : 127 << 8;
    unlink(path);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
  }
  // The RST really crossed the wire, from `from` (an address), with or without ACK.
  void on_the_wire(uint16_t p, const std::string& from, bool with_ack, const Explanation& x) {
    const auto rsts = wire().rsts_on_port(p, 2000ms);
    ASSERT_FALSE(rsts.empty()) << "no RST on the tap for port " << p;
    EXPECT_EQ(rsts.front().src, from);
    EXPECT_EQ((rsts.front().flags & 0x10) != 0, with_ack) << "flags 0x" << std::hex << int(rsts.front().flags);
    // where the probe sees the segment, it must agree with the wire
    if (x.evidence && x.evidence->rst_flags) {
      EXPECT_EQ(*x.evidence->rst_flags, with_ack ? "RST|ACK" : "RST");
    }
  }
  void received_by_us(const Explanation& x) {
    ASSERT_TRUE(x.reset.receiver);
    EXPECT_EQ(x.reset.receiver->pid, static_cast<uint32_t>(getpid()));
    EXPECT_FALSE(x.reset.sent) << "the RST came from the other host";
    EXPECT_NE(x.because.find(peer_addr(fam())), std::string::npos) << x.because;
    ASSERT_TRUE(x.evidence);
  }
  static void near(const std::optional<double>& v, double want, double tol, const char* what) {
    ASSERT_TRUE(v) << what;
    EXPECT_NEAR(*v, want, tol) << what;
  }
};

// The peer's keep-alive timeout closed the idle connection (FIN); we wrote later.
TEST_P(Remote, WriteAfterPeerClose) {
  const uint16_t p = port(9101);
  ASSERT_EQ(serve(p, "idleclose", 300), "");
  Client c;
  ASSERT_EQ(c.connect_to(fam(), p), "");
  ASSERT_TRUE(c.send_all(40));
  ASSERT_EQ(c.recv_result(2000ms), "data");
  std::this_thread::sleep_for(800ms);  // the peer closes after 300 ms idle: its FIN is here
  ASSERT_TRUE(c.send_all(40));         // accepted locally, reset by the peer
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(c.send_result(10), "EPIPE") << "RST in CLOSE_WAIT: the next send fails with EPIPE";
  const Explanation x = traced(p, "write_after_peer_close");
  EXPECT_EQ(x.cause, Cause::WriteAfterPeerClose) << x.because;
  EXPECT_TRUE(x.inferred);
  received_by_us(x);
  if (!x.evidence) return;
  EXPECT_EQ(x.evidence->state, "CLOSE_WAIT");
  near(x.evidence->fin_before_send_s, 0.5, 0.25, "FIN 500 ms before our send");
  EXPECT_EQ(x.evidence->unacked_bytes, 40u);
  on_the_wire(p, peer_addr(fam()), /*with_ack=*/false, x);
}

// A request after 1.3 s idle, acknowledged, then the server's idle timer fires (200 ms
// after the request came in) and closes with the request unread: RST|ACK, no FIN.
TEST_P(Remote, KeepaliveRace) {
  const uint16_t p = port(9102);
  ASSERT_EQ(serve(p, "race", 200), "");
  Client c;
  ASSERT_EQ(c.connect_to(fam(), p), "");
  ASSERT_TRUE(c.send_all(40));
  ASSERT_EQ(c.recv_result(2000ms), "data");
  std::this_thread::sleep_for(1300ms);
  ASSERT_TRUE(c.send_all(40));
  EXPECT_EQ(c.recv_result(3000ms), "ECONNRESET");
  const Explanation x = traced(p, "keepalive_race");
  EXPECT_EQ(x.cause, Cause::KeepaliveRace) << x.because;
  EXPECT_TRUE(x.inferred);
  received_by_us(x);
  if (!x.evidence) return;
  EXPECT_EQ(x.evidence->state, "ESTABLISHED");
  near(x.evidence->idle_before_send_s, 1.3, 0.2, "idle before the request");
  near(x.evidence->since_send_s, 0.25, 0.2, "RST after the request");
  EXPECT_EQ(x.evidence->unacked_bytes, 0u) << "the peer's kernel acknowledged the request";
  EXPECT_FALSE(x.evidence->fin_before_send_s) << "no FIN";
  on_the_wire(p, peer_addr(fam()), /*with_ack=*/true, x);
}

// The peer read 100 of 1,100 bytes and closed: the kernel resets instead of FIN.
TEST_P(Remote, PeerAborted_UnreadData) {
  const uint16_t p = port(9103);
  ASSERT_EQ(serve(p, "readclose", 100), "");
  Client c;
  ASSERT_EQ(c.connect_to(fam(), p), "");
  ASSERT_TRUE(c.send_all(1100));
  EXPECT_EQ(c.recv_result(3000ms), "ECONNRESET");
  const Explanation x = traced(p, "peer_aborted (unread data)");
  EXPECT_EQ(x.cause, Cause::PeerAborted) << x.because;
  EXPECT_TRUE(x.inferred);
  received_by_us(x);
  if (!x.evidence) return;
  EXPECT_EQ(x.evidence->bytes_received, 0u);
  EXPECT_NE(x.because.find("never sent anything"), std::string::npos) << x.because;
  near(x.evidence->since_send_s, 0.07, 0.15, "RST soon after our send");
  on_the_wire(p, peer_addr(fam()), /*with_ack=*/true, x);
}

// The peer answered nothing and closed with SO_LINGER {1, 0}.
TEST_P(Remote, PeerAborted_LingerZero) {
  const uint16_t p = port(9104);
  ASSERT_EQ(serve(p, "linger0"), "");
  Client c;
  ASSERT_EQ(c.connect_to(fam(), p), "");
  ASSERT_TRUE(c.send_all(60));
  EXPECT_EQ(c.recv_result(3000ms), "ECONNRESET");
  const Explanation x = traced(p, "peer_aborted (linger 0)");
  EXPECT_EQ(x.cause, Cause::PeerAborted) << x.because;
  EXPECT_TRUE(x.inferred);
  received_by_us(x);
  if (!x.evidence) return;
  EXPECT_EQ(x.evidence->unacked_bytes, 0u);
  EXPECT_EQ(x.evidence->bytes_acked, 60u);
  on_the_wire(p, peer_addr(fam()), /*with_ack=*/true, x);
}

// The peer process was killed holding our request.
TEST_P(Remote, PeerAborted_Died) {
  const uint16_t p = port(9105);
  ASSERT_EQ(serve(p, "die"), "");
  Client c;
  ASSERT_EQ(c.connect_to(fam(), p), "");
  ASSERT_TRUE(c.send_all(60));
  EXPECT_EQ(c.recv_result(3000ms), "ECONNRESET");
  const Explanation x = traced(p, "peer_aborted (killed)");
  EXPECT_EQ(x.cause, Cause::PeerAborted) << x.because;
  EXPECT_TRUE(x.inferred);
  received_by_us(x);
  on_the_wire(p, peer_addr(fam()), /*with_ack=*/true, x);
}

// The peer dropped the connection silently (as a restart or an expired NAT entry would);
// our next request after 1.5 s idle meets a host without state: bare RST.
TEST_P(Remote, UnknownConnection_AfterIdle) {
  const uint16_t p = port(9106);
  ASSERT_EQ(serve(p, "forget"), "");
  Client c;
  ASSERT_EQ(c.connect_to(fam(), p), "");
  ASSERT_TRUE(c.send_all(40));
  ASSERT_EQ(c.recv_result(2000ms), "data");
  std::this_thread::sleep_for(1500ms);
  ASSERT_TRUE(c.send_all(50));
  EXPECT_EQ(c.recv_result(3000ms), "ECONNRESET");
  const Explanation x = traced(p, "unknown_connection");
  EXPECT_EQ(x.cause, Cause::UnknownConnection) << x.because;
  EXPECT_TRUE(x.inferred);
  received_by_us(x);
  if (!x.evidence) return;
  EXPECT_EQ(x.evidence->unacked_bytes, 50u) << "nothing of the new request acknowledged";
  near(x.evidence->idle_before_send_s, 1.5, 0.2, "idle before the request");
  EXPECT_LT(x.evidence->since_send_s.value_or(9), 0.2);
  EXPECT_NE(x.because.find("NAT"), std::string::npos) << "long idle: names NAT/LB expiry: " << x.because;
  on_the_wire(p, peer_addr(fam()), /*with_ack=*/false, x);
}

// Nothing listens on the port of the other host.
TEST_P(Remote, ConnectionRefused_NamesTheOtherHost) {
  const uint16_t p = port(9107);
  Client c;
  EXPECT_EQ(c.connect_to(fam(), p), "ECONNREFUSED");
  const Explanation x = traced(p, "connection_refused");
  EXPECT_EQ(x.cause, Cause::ConnectionRefused) << x.because;
  EXPECT_TRUE(x.inferred);
  received_by_us(x);
  EXPECT_NE(x.because.find("(another host)"), std::string::npos) << x.because;
  EXPECT_EQ(x.because.find("netns"), std::string::npos) << x.because;
  EXPECT_NE(x.kernel_path.find(fam() == Fam::V4 ? "tcp_v4_send_reset" : "tcp_v6_send_reset"), std::string::npos)
      << x.kernel_path;
  on_the_wire(p, peer_addr(fam()), /*with_ack=*/true, x);
}

// The reverse direction: this host sends the RST (linger 0), the receiver is the other host.
TEST_P(Remote, ThisHostSends_NamesTheRemoteReceiver) {
  const uint16_t p = port(9108);
  ASSERT_EQ(serve(p, "sink"), "");
  Client c;
  ASSERT_EQ(c.connect_to(fam(), p), "");
  ASSERT_TRUE(c.send_all(30));
  std::this_thread::sleep_for(100ms);
  c.abort_close();
  const Explanation x = traced(p, "linger_zero_close (sent to the other host)");
  EXPECT_EQ(x.cause, Cause::LingerZeroClose) << x.because;
  EXPECT_FALSE(x.inferred) << "this host's own RST: the cause is known";
  EXPECT_TRUE(x.reset.sent);
  EXPECT_FALSE(x.reset.received);
  EXPECT_FALSE(x.reset.receiver);
  EXPECT_NE(x.because.find(std::string(peer_addr(fam()))), std::string::npos)
      << "names the remote receiver: " << x.because;
  if (fam() == Fam::V6) {
    EXPECT_EQ(x.kernel_path.find("tcp_v4"), std::string::npos) << x.kernel_path;
  }
  on_the_wire(p, fam() == Fam::V4 ? kHostV4 : kHostV6, /*with_ack=*/true, x);
}

INSTANTIATE_TEST_SUITE_P(Families, Remote, ::testing::Values(Fam::V4, Fam::V6),
                         [](const ::testing::TestParamInfo<Fam>& i) { return fam_name(i.param); });

}  // namespace
}  // namespace connreset::remote
