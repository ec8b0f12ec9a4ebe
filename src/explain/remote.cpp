// RSTs from another host, explained from this host's side alone. The
// receiving socket's kernel stamps (last data each way, last ACK, bytes in
// flight, RTT), the peer's FIN as traced, and the RST's own flags where the
// probe sees the segment, decide between the causes users meet in production:
// keep-alive idle races, peers that closed or aborted, peers (or middleboxes)
// without state for the connection. Every such cause is an inference.
#include "explain/remote.h"

#include <cmath>
#include <cstdio>

#include "common/names.h"
#include "explain/explainer.h"

namespace connreset {
namespace {

using namespace remote_rules;

double ms_to_s(uint32_t ms) { return static_cast<double>(ms) / 1000.0; }

std::string who(const ResetCase& c) { return c.receiver ? task_label(*c.receiver) : "this host"; }

std::string flags_name(uint8_t f) { return (f & tcp::kSegAck) ? "RST|ACK" : "RST"; }

RemoteEvidence gather(const ResetCase& c) {
  RemoteEvidence ev;
  const Event& r = *c.received;
  const RstEvidence& d = r.evidence;
  ev.state = tcp_state_name(r.state);
  if (c.receiver_opened_ns && c.receiver_opened_ns <= r.ts_ns) {
    ev.age_s = static_cast<double>(r.ts_ns - c.receiver_opened_ns) / 1e9;
  }
  if (!d.socket) {
    ev.missing.push_back("socket state at the RST (journal from an older connreset)");
    return ev;
  }
  if (r.state == tcp::kSynSent) {
    ev.retrans = d.retrans;  // SYN retransmissions; no data has moved, no stamps to compare
    return ev;
  }
  ev.unacked_bytes = d.unacked;
  ev.srtt_ms = d.srtt_us / 1000.0;
  ev.retrans = d.retrans;
  // the kernel counts sequence space: our SYN is in bytes_acked, the peer's FIN in bytes_received
  ev.bytes_acked = d.bytes_acked > 0 ? d.bytes_acked - 1 : 0;
  const bool fin = c.receiver_fin_ns != 0 || r.fin_received;
  ev.bytes_received = fin && d.bytes_received > 0 ? d.bytes_received - 1 : d.bytes_received;
  if (d.segment) {
    ev.rst_flags = flags_name(d.rst_flags);
    if (d.rst_flags & tcp::kSegAck) ev.rst_acked = d.rst_acked;
  } else {
    ev.missing.push_back("the RST's flags (this probe sees the socket only)");
  }
  if (d.times) {
    ev.since_send_s = ms_to_s(d.since_send_ms);
    ev.since_recv_s = ms_to_s(d.since_recv_ms);
    ev.since_ack_s = ms_to_s(d.since_ack_ms);
    ev.idle_before_send_s = d.since_recv_ms > d.since_send_ms ? ms_to_s(d.since_recv_ms - d.since_send_ms) : 0.0;
    if (c.receiver_fin_ns) {
      const double send_s = static_cast<double>(r.ts_ns) / 1e9 - ms_to_s(d.since_send_ms);
      ev.fin_before_send_s = send_s - static_cast<double>(c.receiver_fin_ns) / 1e9;
    }
  } else {
    ev.missing.push_back("timing (the kernel's HZ was unknown: no kernel config found)");
  }
  return ev;
}

bool fin_seen(const ResetCase& c) {
  const Event& r = *c.received;
  return c.receiver_fin_ns != 0 || r.fin_received || r.state == tcp::kCloseWait ||
         r.state == tcp::kLastAck || r.state == tcp::kClosing;
}

std::string with_hint(const std::string& sentence, const std::string& hint) {
  return hint.empty() ? sentence : sentence + " " + hint + ".";
}

}  // namespace

std::string seconds_phrase(double s) {
  char buf[48];
  if (s < 1.0) {
    std::snprintf(buf, sizeof(buf), "%.0f ms", s * 1000.0);
  } else {
    std::snprintf(buf, sizeof(buf), "%.2f s", s);
  }
  return buf;
}

std::string idle_timeout_hint(double idle_s) {
  struct Known {
    double seconds;
    const char* who;
  };
  static constexpr Known kKnown[] = {
      {5, "Node.js http keepAliveTimeout, Apache httpd KeepAliveTimeout"},
      {60, "AWS ALB/ELB idle timeout, many proxies' and servers' keep-alive timeouts"},
      {75, "nginx keepalive_timeout"},
      {90, "Go net/http Transport.IdleConnTimeout"},
      {350, "AWS NLB and NAT gateway TCP idle timeout"},
      {900, "Linux IPVS (kube-proxy ipvs mode) TCP timeout"},
  };
  for (const Known& k : kKnown) {
    if (std::fabs(idle_s - k.seconds) <= std::max(1.0, 0.05 * k.seconds)) {
      char buf[200];
      std::snprintf(buf, sizeof(buf), "%.0f s idle matches a common default of %.0f s (%s) - a hint, not proof",
                    idle_s, k.seconds, k.who);
      return buf;
    }
  }
  return "";
}

RemoteVerdict infer_remote(const ResetCase& c) {
  RemoteVerdict v;
  const Event& r = *c.received;
  const std::string peer = c.remote.str();
  v.evidence = gather(c);
  const RemoteEvidence& ev = v.evidence;
  const RstEvidence& d = r.evidence;

  if (r.state == tcp::kSynSent) {
    v.cause = Cause::ConnectionRefused;
    v.because = "nothing listens on " + peer + " (another host): it answered " + who(c) +
                "'s SYN with RST and connect() failed with ECONNREFUSED (or a firewall on the way "
                "rejects with tcp-reset).";
    return v;
  }
  if (!d.socket || d.not_rst) {
    v.cause = Cause::RemoteUnknown;
    v.because = "the RST came from " + peer + ", which is not traced on this host; missing evidence: " +
                (ev.missing.empty() ? std::string("the socket's state") : ev.missing.front()) + ".";
    return v;
  }
  const bool have_fin = fin_seen(c);
  if (!d.times) {
    if (have_fin) {
      v.cause = Cause::WriteAfterPeerClose;
      v.because = peer + " had closed the connection (its FIN arrived) and answered later data from " +
                  who(c) + " with RST.";
      return v;
    }
    v.cause = Cause::RemoteUnknown;
    v.because = "the RST came from " + peer + ", which is not traced on this host; missing evidence: " +
                ev.missing.back() + ".";
    return v;
  }

  const double idle = *ev.idle_before_send_s;
  const uint32_t reply_ms = std::max<uint32_t>(kReplyMs, 4 * d.srtt_us / 1000);
  const bool reply = d.since_send_ms <= reply_ms;  // the RST answered our last segment
  const std::string idle_hint = idle_timeout_hint(idle);

  if (have_fin) {
    const bool fin_first = !ev.fin_before_send_s ||
                           *ev.fin_before_send_s * 1e9 >= static_cast<double>(kFinOrderSlackNs);
    if (fin_first) {
      v.cause = Cause::WriteAfterPeerClose;
      v.because = peer + " closed the connection (its FIN arrived" +
                  (ev.fin_before_send_s ? " " + seconds_phrase(*ev.fin_before_send_s) + " before " + who(c) +
                                              " last wrote"
                                        : "") +
                  "); " + who(c) + " wrote anyway and the peer's stack, which no longer wanted data, "
                  "answered with RST " + seconds_phrase(*ev.since_send_s) + " later.";
      return v;
    }
    if (d.since_recv_ms >= d.since_send_ms && idle * 1000 >= kIdleMs) {
      v.cause = Cause::KeepaliveRace;
      v.hint = idle_hint;
      v.because = with_hint("the connection had been idle " + seconds_phrase(idle) + " when " + who(c) +
                                " sent again; " + peer + "'s idle timeout closed it at the same moment "
                                "(its FIN crossed our data) and its stack reset the data that arrived "
                                "after the close.",
                            idle_hint);
      return v;
    }
    v.cause = Cause::WriteAfterPeerClose;
    v.because = peer + " closed the connection while data from " + who(c) +
                " was on the way (its FIN crossed our send); data arriving after a close is answered "
                "with RST.";
    return v;
  }

  // no FIN: the peer (or something between) reset without closing first
  const bool seg = d.segment;
  const bool bare = seg && !(d.rst_flags & tcp::kSegAck);
  const bool no_ack_since_send = d.unacked > 0 && d.since_ack_ms >= d.since_send_ms;
  if (bare || (!seg && reply && no_ack_since_send)) {
    v.cause = Cause::UnknownConnection;
    std::string s = peer + " has no state for this connection: it answered " + who(c) + "'s segment" +
                    (reply ? " at once (" + seconds_phrase(*ev.since_send_s) + " after it)" : "") +
                    (seg ? " with a bare RST" : " with an RST") +
                    (d.unacked ? ", acknowledging none of its " + thousands(d.unacked) + " bytes in flight"
                               : std::string(" (an RST that acknowledges nothing)"));
    if (idle * 1000 >= kIdleMs) {
      s += "; the connection had been idle " + seconds_phrase(idle) +
           ": a load balancer, NAT or conntrack entry that expired after an idle timeout is the likely "
           "reason (or the peer restarted)";
      v.hint = idle_hint;
    } else {
      s += " (the peer restarted, lost its state, or a middlebox dropped the flow)";
    }
    v.because = with_hint(s + ".", v.hint);
    return v;
  }
  if (idle * 1000 >= kIdleMs && d.unacked == 0 && d.since_send_ms <= kRaceMs &&
      d.since_recv_ms > d.since_send_ms) {
    v.cause = Cause::KeepaliveRace;
    v.hint = idle_hint;
    v.because = with_hint("the connection had been idle " + seconds_phrase(idle) + " when " + who(c) +
                              " sent a request; " + peer + " acknowledged it and reset the connection " +
                              seconds_phrase(*ev.since_send_s) +
                              " later without answering: its idle timeout closed the connection as the "
                              "request arrived.",
                          idle_hint);
    return v;
  }
  v.cause = Cause::PeerAborted;
  std::string s = peer + " reset the connection without closing it first (no FIN): its application closed "
                  "with data unread, used SO_LINGER {1, 0}, or died. It had acknowledged " +
                  thousands(*ev.bytes_acked) + " bytes of ours" +
                  (d.unacked ? " (" + thousands(d.unacked) + " more in flight)" : std::string(" (all we sent)"));
  if (*ev.bytes_received == 0) {
    s += " and never sent anything";
  } else {
    s += "; its last data came " + seconds_phrase(*ev.since_recv_s) + " before the RST, ours " +
         seconds_phrase(*ev.since_send_s) + " before it";
  }
  v.because = s + ".";
  return v;
}

}  // namespace connreset
