// RSTs from another host, judged from one side's events only: the rules of
// explain/remote.cpp at and around their thresholds, fed through the
// correlator as a live run would.
#include <gtest/gtest.h>

#include "correlate/correlator.h"
#include "explain/explainer.h"
#include "explain/remote.h"
#include "sinks/json_format.h"
#include "sinks/text_sink.h"
#include "unit/event_builder.h"

namespace connreset {
namespace {

using namespace remote_rules;
using namespace testing;
constexpr uint64_t kS = 1000 * kMs;
const Conn kClient{77, ep(41000, 0x0a000001), ep(8080, 0x0a000002)};  // 10.0.0.1 -> 10.0.0.2 (remote)
const TaskRef kApp = task(500, "client");

class Collect : public CorrelatorOutput {
 public:
  void on_reset(const ResetCase& c) override { resets.push_back(c); }
  std::vector<ResetCase> resets;
};

// What the socket knew at the RST (the BPF side's fill_rst_evidence).
struct Knew {
  uint32_t since_send_ms = 20;
  uint32_t since_recv_ms = 20;
  uint32_t since_ack_ms = 20;
  uint32_t unacked = 0;
  uint32_t srtt_us = 1000;
  int rst_flags = -1;  // -1: the probe did not see the segment (tp_btf)
  uint64_t bytes_acked = 100;
  uint64_t bytes_received = 50;
  bool times = true;
};

Event rst(uint64_t ts, uint8_t st, const Knew& k) {
  Event e = rst_received(ts, kClient, task(1, "swapper/0"), st);
  RstEvidence& d = e.evidence;
  d.socket = true;
  d.times = k.times;
  d.since_send_ms = k.since_send_ms;
  d.since_recv_ms = k.since_recv_ms;
  d.since_ack_ms = k.since_ack_ms;
  d.unacked = k.unacked;
  d.srtt_us = k.srtt_us;
  d.bytes_acked = k.bytes_acked;
  d.bytes_received = k.bytes_received;
  if (k.rst_flags >= 0) {
    d.segment = true;
    d.rst_flags = static_cast<uint8_t>(k.rst_flags);
  }
  return e;
}

// One connection seen from the client only: set up at 0, optionally the peer's FIN at fin_ns,
// the RST at rst_ns.
Explanation judge(uint64_t rst_ns, uint8_t st, const Knew& k, uint64_t fin_ns = 0) {
  Collect out;
  Correlator c(CorrelatorOptions{}, out);
  c.on_event(state(0, kClient, kApp, tcp::kClose, tcp::kSynSent));
  c.on_event(state(1 * kMs, kClient, kApp, tcp::kSynSent, tcp::kEstablished));
  if (fin_ns) c.on_event(state(fin_ns, kClient, task(1, "swapper/0"), tcp::kEstablished, tcp::kCloseWait));
  c.on_event(call(rst_ns - k.since_send_ms * kMs, kClient, kApp, Call::Send, Phase::Data, 40));
  c.on_event(rst(rst_ns, st, k));
  c.flush();
  EXPECT_EQ(out.resets.size(), 1u);
  return out.resets.empty() ? Explanation{} : explain(out.resets.front());
}

const uint8_t kBare = tcp::kSegRst;
const uint8_t kRstAck = tcp::kSegRst | tcp::kSegAck;

// ---- write_after_peer_close --------------------------------------------------

TEST(RemoteRules, FinBeforeOurWrite_IsWriteAfterPeerClose) {
  Knew k{.since_send_ms = 2, .since_recv_ms = 3000, .since_ack_ms = 2500, .unacked = 40};
  const Explanation x = judge(10 * kS, tcp::kCloseWait, k, /*fin=*/7 * kS);
  EXPECT_EQ(x.cause, Cause::WriteAfterPeerClose) << x.because;
  EXPECT_TRUE(x.inferred);
  ASSERT_TRUE(x.evidence && x.evidence->fin_before_send_s);
  EXPECT_NEAR(*x.evidence->fin_before_send_s, 2.998, 0.001);
  EXPECT_NE(x.because.find("10.0.0.2:8080"), std::string::npos) << x.because;
  EXPECT_NE(x.because.find("3.00 s before"), std::string::npos) << x.because;
}

TEST(RemoteRules, FinJustAfterOurWrite_IsNotWriteAfterPeerClose_ButTheIdleRace) {
  // our send at 10 s - 50 ms; the FIN 1 ms after it: the peer's idle close crossed our request
  Knew k{.since_send_ms = 50, .since_recv_ms = 5050, .since_ack_ms = 5000, .unacked = 40};
  const Explanation x = judge(10 * kS, tcp::kCloseWait, k, /*fin=*/10 * kS - 49 * kMs);
  EXPECT_EQ(x.cause, Cause::KeepaliveRace) << x.because;
  EXPECT_NE(x.because.find("crossed"), std::string::npos) << x.because;
}

TEST(RemoteRules, FinWithinTheOrderingSlack_CountsAsCrossing) {
  Knew k{.since_send_ms = 50, .since_recv_ms = 5050, .since_ack_ms = 5000, .unacked = 40};
  const uint64_t send_ns = 10 * kS - 50 * kMs;
  EXPECT_EQ(judge(10 * kS, tcp::kCloseWait, k, send_ns - kFinOrderSlackNs + 1 * kMs).cause, Cause::KeepaliveRace);
  EXPECT_EQ(judge(10 * kS, tcp::kCloseWait, k, send_ns - kFinOrderSlackNs - 1 * kMs).cause,
            Cause::WriteAfterPeerClose);
}

TEST(RemoteRules, FinCrossingABusyConnection_IsWriteAfterPeerClose) {
  Knew k{.since_send_ms = 5, .since_recv_ms = 8, .since_ack_ms = 5, .unacked = 40};
  EXPECT_EQ(judge(10 * kS, tcp::kCloseWait, k, /*fin=*/10 * kS - 1 * kMs).cause, Cause::WriteAfterPeerClose);
}

// ---- keepalive_race ------------------------------------------------------------

TEST(RemoteRules, IdleJustAboveTheThreshold_AckedThenReset_IsKeepaliveRace) {
  Knew k{.since_send_ms = 200, .since_recv_ms = 200 + kIdleMs, .since_ack_ms = 199, .unacked = 0};
  const Explanation x = judge(10 * kS, tcp::kEstablished, k);
  EXPECT_EQ(x.cause, Cause::KeepaliveRace) << x.because;
  EXPECT_TRUE(x.inferred);
  ASSERT_TRUE(x.evidence && x.evidence->idle_before_send_s);
  EXPECT_DOUBLE_EQ(*x.evidence->idle_before_send_s, kIdleMs / 1000.0);
}

TEST(RemoteRules, IdleJustBelowTheThreshold_IsPeerAborted) {
  Knew k{.since_send_ms = 200, .since_recv_ms = 200 + kIdleMs - 1, .since_ack_ms = 199, .unacked = 0};
  EXPECT_EQ(judge(10 * kS, tcp::kEstablished, k).cause, Cause::PeerAborted);
}

TEST(RemoteRules, RaceWindow_RstLongAfterTheRequest_IsPeerAborted) {
  Knew in{.since_send_ms = kRaceMs, .since_recv_ms = kRaceMs + 5000, .since_ack_ms = 900, .unacked = 0};
  Knew out = in;
  out.since_send_ms = kRaceMs + 1;
  out.since_recv_ms = kRaceMs + 1 + 5000;
  EXPECT_EQ(judge(10 * kS, tcp::kEstablished, in).cause, Cause::KeepaliveRace);
  EXPECT_EQ(judge(10 * kS, tcp::kEstablished, out).cause, Cause::PeerAborted);
}

TEST(RemoteRules, KeepaliveRace_HintsAtAKnownIdleDefault) {
  Knew k{.since_send_ms = 30, .since_recv_ms = 30 + 90'200, .since_ack_ms = 29, .unacked = 0, .rst_flags = kRstAck};
  const Explanation x = judge(200 * kS, tcp::kEstablished, k);
  EXPECT_EQ(x.cause, Cause::KeepaliveRace);
  EXPECT_NE(x.because.find("Go net/http"), std::string::npos) << x.because;
  EXPECT_NE(x.because.find("not proof"), std::string::npos) << x.because;
}

TEST(RemoteRules, IdleHints) {
  EXPECT_NE(idle_timeout_hint(60.4).find("60 s"), std::string::npos);
  EXPECT_NE(idle_timeout_hint(75).find("nginx"), std::string::npos);
  EXPECT_NE(idle_timeout_hint(349).find("NLB"), std::string::npos);
  EXPECT_NE(idle_timeout_hint(905).find("IPVS"), std::string::npos);
  EXPECT_EQ(idle_timeout_hint(30), "");
  EXPECT_EQ(idle_timeout_hint(1.3), "");
}

// ---- peer_aborted --------------------------------------------------------------

TEST(RemoteRules, NoFinDuringAnExchange_IsPeerAborted_WithWhatThePeerAcked) {
  Knew k{.since_send_ms = 60, .since_recv_ms = 61, .since_ack_ms = 30, .unacked = 0,
         .rst_flags = kRstAck, .bytes_acked = 1101, .bytes_received = 0};  // + our SYN
  const Explanation x = judge(10 * kS, tcp::kEstablished, k);
  EXPECT_EQ(x.cause, Cause::PeerAborted) << x.because;
  EXPECT_TRUE(x.inferred);
  EXPECT_NE(x.because.find("1,100 bytes"), std::string::npos) << x.because;
  EXPECT_NE(x.because.find("never sent anything"), std::string::npos) << x.because;
}

// ---- unknown_connection ---------------------------------------------------------

TEST(RemoteRules, BareRstRightAfterOurSend_IsUnknownConnection) {
  Knew k{.since_send_ms = 3, .since_recv_ms = 403, .since_ack_ms = 400, .unacked = 50, .rst_flags = kBare};
  const Explanation x = judge(10 * kS, tcp::kEstablished, k);
  EXPECT_EQ(x.cause, Cause::UnknownConnection) << x.because;
  EXPECT_EQ(x.because.find("NAT"), std::string::npos) << "not idle long: " << x.because;
}

TEST(RemoteRules, UnknownConnection_AfterLongIdle_NamesNatAndLoadBalancers) {
  Knew k{.since_send_ms = 3, .since_recv_ms = 3 + 350'000, .since_ack_ms = 350'000, .unacked = 50};
  const Explanation x = judge(400 * kS, tcp::kEstablished, k);
  EXPECT_EQ(x.cause, Cause::UnknownConnection) << x.because;
  EXPECT_NE(x.because.find("NAT"), std::string::npos) << x.because;
  EXPECT_NE(x.because.find("NLB"), std::string::npos) << x.because;
}

TEST(RemoteRules, FlagsUnknown_RstExactlyAtTheReplyWindow_VersusLater) {
  // nothing acknowledged since our send; the RST either answers it or comes later
  Knew at{.since_send_ms = kReplyMs, .since_recv_ms = kReplyMs + 10, .since_ack_ms = kReplyMs + 5, .unacked = 50};
  Knew later = at;
  later.since_send_ms = kReplyMs + 1;
  later.since_recv_ms = kReplyMs + 11;
  later.since_ack_ms = kReplyMs + 6;
  EXPECT_EQ(judge(10 * kS, tcp::kEstablished, at).cause, Cause::UnknownConnection);
  EXPECT_EQ(judge(10 * kS, tcp::kEstablished, later).cause, Cause::PeerAborted);
}

TEST(RemoteRules, ReplyWindowGrowsWithTheRtt) {
  // srtt 100 ms: 4 RTTs = 400 ms still answer our send
  Knew k{.since_send_ms = 390, .since_recv_ms = 400, .since_ack_ms = 395, .unacked = 50, .srtt_us = 100'000};
  EXPECT_EQ(judge(10 * kS, tcp::kEstablished, k).cause, Cause::UnknownConnection);
}

TEST(RemoteRules, FlagsUnknown_AnAckSinceOurSend_IsNotUnknownConnection) {
  Knew k{.since_send_ms = 10, .since_recv_ms = 20, .since_ack_ms = 5, .unacked = 50};
  EXPECT_EQ(judge(10 * kS, tcp::kEstablished, k).cause, Cause::PeerAborted);
}

TEST(RemoteRules, RstAckIsNeverUnknownConnection) {
  Knew k{.since_send_ms = 3, .since_recv_ms = 403, .since_ack_ms = 400, .unacked = 50, .rst_flags = kRstAck};
  EXPECT_EQ(judge(10 * kS, tcp::kEstablished, k).cause, Cause::PeerAborted);
}

// ---- refused, missing evidence ----------------------------------------------------

TEST(RemoteRules, RstToOurSyn_IsRefusedOnTheOtherHost) {
  Collect out;
  Correlator c(CorrelatorOptions{}, out);
  c.on_event(state(0, kClient, kApp, tcp::kClose, tcp::kSynSent));
  c.on_event(rst(2 * kMs, tcp::kSynSent, Knew{}));
  c.flush();
  ASSERT_EQ(out.resets.size(), 1u);
  const Explanation x = explain(out.resets[0]);
  EXPECT_EQ(x.cause, Cause::ConnectionRefused);
  EXPECT_TRUE(x.inferred);
  EXPECT_NE(x.because.find("10.0.0.2:8080 (another host)"), std::string::npos) << x.because;
  EXPECT_EQ(x.because.find("netns"), std::string::npos) << x.because;
}

TEST(RemoteRules, NoSocketEvidence_StaysRemoteUnknown_AndSaysWhatWasMissing) {
  ResetCase c;
  c.received = rst_received(1, kClient, kApp);
  const Explanation x = explain(c);
  EXPECT_EQ(x.cause, Cause::RemoteUnknown);
  EXPECT_FALSE(x.inferred);
  EXPECT_NE(x.because.find("missing evidence"), std::string::npos) << x.because;
}

TEST(RemoteRules, NoTiming_StaysRemoteUnknown_UnlessTheFinSaysEnough) {
  Knew k;
  k.times = false;
  const Explanation x = judge(10 * kS, tcp::kEstablished, k);
  EXPECT_EQ(x.cause, Cause::RemoteUnknown);
  EXPECT_NE(x.because.find("HZ"), std::string::npos) << x.because;
  EXPECT_EQ(judge(10 * kS, tcp::kCloseWait, k, 5 * kS).cause, Cause::WriteAfterPeerClose);
}

// ---- rendering and the IPv6 kernel path ---------------------------------------------

TEST(RemoteRules, JsonCarriesInferredAndEvidence_TextCarriesTheNumbers) {
  Knew k{.since_send_ms = 200, .since_recv_ms = 1500, .since_ack_ms = 199, .unacked = 0, .rst_flags = kRstAck};
  const Explanation x = judge(10 * kS, tcp::kEstablished, k);
  const auto j = reset_to_json(x, ClockMap{});
  EXPECT_EQ(j["inferred"], true);
  EXPECT_DOUBLE_EQ(j["evidence"]["idle_before_send_s"].get<double>(), 1.3);
  EXPECT_EQ(j["evidence"]["rst_flags"], "RST|ACK");
  EXPECT_EQ(j["evidence"]["unacked_bytes"], 0);
  EXPECT_EQ(j["evidence"]["state"], "ESTABLISHED");
  const std::string text = render_text(x, ClockMap{});
  EXPECT_NE(text.find("evidence (inferred)"), std::string::npos) << text;
  EXPECT_NE(text.find("idle 1.30 s"), std::string::npos) << text;
  EXPECT_NE(text.find("rst RST|ACK"), std::string::npos) << text;
}

TEST(RemoteRules, LocalCausesAreNotInferred) {
  ResetCase c;
  c.sent = abort_on_close(1, kClient, kApp, 12);
  const auto j = reset_to_json(explain(c), ClockMap{});
  EXPECT_EQ(j["inferred"], false);
  EXPECT_TRUE(j["evidence"].is_null());
}

TEST(RemoteRules, Ipv6_KernelPathNamesTheV6Function) {
  ResetCase c;
  const Conn v6{78, Endpoint{}, Endpoint{}};
  Conn conn = v6;
  conn.local.family = 10;
  conn.local.port = 41000;
  conn.remote.family = 10;
  conn.remote.port = 8080;
  c.received = rst_received(1, conn, kApp, tcp::kSynSent);
  c.local = conn.local;
  c.remote = conn.remote;
  const Explanation x = explain(c);
  EXPECT_EQ(x.cause, Cause::ConnectionRefused);
  EXPECT_NE(x.kernel_path.find("tcp_v6_send_reset"), std::string::npos) << x.kernel_path;
  EXPECT_EQ(x.kernel_path.find("tcp_v4_send_reset"), std::string::npos) << x.kernel_path;
}

}  // namespace
}  // namespace connreset
