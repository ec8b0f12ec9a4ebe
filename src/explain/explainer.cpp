#include "explain/explainer.h"

#include "common/escape.h"
#include "common/names.h"
#include "explain/causes.h"
#include "explain/remote.h"

namespace connreset {
namespace {

bool is_protocol_violation(RstReason r) {
  switch (r) {
    case RstReason::TcpInvalidAckSequence:
    case RstReason::TcpRfc7323Paws:
    case RstReason::TcpTooOldAck:
    case RstReason::TcpAckUnsentData:
    case RstReason::TcpFlags:
    case RstReason::TcpOldAck:
    case RstReason::InvalidSyn:
      return true;
    default:
      return false;
  }
}

// A reply RST from this host's stack for a segment no socket wanted.
Cause classify_no_socket(const ResetCase& c) {
  const Event& s = *c.sent;
  if ((s.seg_flags & tcp::kSegSyn) && !(s.seg_flags & tcp::kSegAck)) return Cause::ConnectionRefused;
  if (c.received && c.received->state == tcp::kSynSent) return Cause::ConnectionRefused;
  if (c.sender_had_closed || c.sender_had_peer_fin) return Cause::WriteAfterPeerClose;
  return Cause::UnknownConnection;
}

// Kernels without RST reasons, or NOT_SPECIFIED: read the same facts the
// reason would encode from the socket at the moment of the RST, and from the
// state it was in just before.
Cause classify_from_socket_state(const ResetCase& c) {
  const Event& s = *c.sent;
  if (!s.has_socket) return classify_no_socket(c);
  if (s.timewait) return Cause::WriteAfterPeerClose;
  if (!s.active) {
    if (s.state == tcp::kListen) return Cause::ProtocolViolation;  // a non-SYN to a listener
    if (s.shutdown & tcp::kShutdownRecv) return Cause::DataAfterClose;
    return c.received ? Cause::RemoteUnknown : Cause::ProtocolViolation;
  }
  // __tcp_close checks unread data, then SO_LINGER 0, before the socket is orphaned
  if (s.closing_whole_socket() && !s.orphan) {
    if (s.unread > 0) return Cause::UnreadDataAtClose;
    if (s.linger_on && s.linger_ms == 0) return Cause::LingerZeroClose;
  }
  if (s.keepalive && s.probes_out > 0 && !s.orphan) return Cause::KeepaliveTimeout;
  if (s.orphan) {
    const bool fin_wait2 = s.state == tcp::kFinWait2 || c.sender_prev_state == tcp::kFinWait2;
    return fin_wait2 ? Cause::FinWait2Timeout : Cause::OrphanMemoryPressure;
  }
  // tcp_abort sends before tcp_done, tcp_disconnect after setting CLOSE
  if (s.state != tcp::kClose) return Cause::SocketDestroyed;
  return Cause::Disconnect;
}

}  // namespace

Cause classify(const ResetCase& c) {
  if (!c.sent) {
    // connect() got RST for its SYN; the kernel's answer was not seen (older kernels' tracepoint)
    if (c.received) return infer_remote(c).cause;
    return Cause::RemoteUnknown;
  }
  const Event& s = *c.sent;
  switch (s.reason) {
    case RstReason::TcpAbortOnClose: return Cause::UnreadDataAtClose;
    case RstReason::TcpState:
      // tcp_keepalive_timer: orphan that timed out in FIN_WAIT2
      if (s.orphan && s.state == tcp::kFinWait2) return Cause::FinWait2Timeout;
      // tcp_abort sends before tcp_done, tcp_disconnect after setting CLOSE
      if (s.state != tcp::kClose) return Cause::SocketDestroyed;
      if (s.closing_whole_socket() && s.linger_on && s.linger_ms == 0) return Cause::LingerZeroClose;
      if (s.closing_whole_socket() && s.unread > 0) return Cause::UnreadDataAtClose;
      return Cause::Disconnect;
    case RstReason::TcpDisconnectWithData: return Cause::Disconnect;
    case RstReason::TcpAbortOnData: return Cause::DataAfterClose;
    case RstReason::TcpTimewaitSocket: return Cause::WriteAfterPeerClose;
    case RstReason::NoSocket: return classify_no_socket(c);
    case RstReason::TcpAbortOnMemory: return Cause::OrphanMemoryPressure;
    case RstReason::TcpAbortOnLinger: return Cause::FinWait2Timeout;
    case RstReason::TcpKeepaliveTimeout: return Cause::KeepaliveTimeout;
    default:
      if (is_protocol_violation(s.reason)) return Cause::ProtocolViolation;
      return classify_from_socket_state(c);
  }
}

Finding explain(Finding f) {
  if (f.kind == "ignored_reset") {
    f.advice = "treat " + f.after + " as the end of the connection: stop calling " + f.call +
               "(), close() the socket and reconnect if needed.";
  } else {
    f.advice = "recv() == 0 means the peer closed: stop reading, finish sending if needed, then "
               "close(); a loop that ignores the return value spins here.";
  }
  return f;
}

std::string task_label(const TaskRef& t) {
  return escape_for_terminal(t.comm) + "[" + std::to_string(t.pid) + "]";
}

namespace {

std::string who(const std::optional<TaskRef>& t, const std::string& otherwise) {
  return t ? task_label(*t) : otherwise;
}

std::string bytes_phrase(uint32_t n) {
  return thousands(n) + (n == 1 ? " unread byte" : " unread bytes");
}

std::string because_sentence(const Explanation& x) {
  const ResetCase& c = x.reset;
  const std::string closer = c.closer ? task_label(c.closer->task) : who(c.actor, who(c.sender, "the peer"));
  const std::string receiver = who(c.receiver, "the peer");
  const std::string sender = who(c.sender, "its owner");
  const bool died = c.closer && c.closer->exiting;

  // Exhaustive (no default): a cause added to the catalog without its sentence does not compile.
  switch (x.cause) {
    case Cause::UnreadDataAtClose: {
      const std::string n = bytes_phrase(x.unread_bytes.value_or(0));
      const std::string how = died ? " died (killed, crashed or exit() without close) holding " + n +
                                         "; the kernel closed its socket"
                                   : " close()d its end with " + n;
      return closer + how + ". Linux answers a close with unread data with RST instead of FIN "
             "and discards that data (RFC 2525 2.17).";
    }
    case Cause::LingerZeroClose:
      return closer + (died ? " died with" : " closed its end with") +
             " SO_LINGER {on, 0 s}: an abortive close, which sends RST instead of FIN and "
             "discards unsent data.";
    case Cause::ConnectionRefused:
      return "nothing listens on " + c.remote.str() + " (netns " + std::to_string(c.netns) +
             "); the kernel answered " + receiver + "'s SYN with RST and connect() failed with "
             "ECONNREFUSED.";
    case Cause::DataAfterClose:
      return closer + " had already closed its end when more data from " + receiver +
             " arrived; Linux cannot deliver it and answers with RST.";
    case Cause::WriteAfterPeerClose:
      return receiver + " sent on a connection that " + sender +
             " had already closed; with no socket left for it, the peer's stack answered RST.";
    case Cause::UnknownConnection:
      return c.remote.str() + " has no socket for this connection (peer restarted, lost its "
             "state or its namespace is gone) and answered " + receiver + "'s segment with RST.";
    case Cause::SocketDestroyed:
      return who(c.actor, "another task") + " destroyed the socket of " + sender +
             " (SOCK_DESTROY, e.g. ss -K); the kernel sent RST.";
    case Cause::Disconnect:
      return who(c.actor, sender) + " disconnected the connected socket (tcp_disconnect, e.g. "
             "connect(AF_UNSPEC)), which resets the connection.";
    case Cause::OrphanMemoryPressure:
      return "the kernel reset a connection already closed by its owner because of too many "
             "orphaned sockets or TCP memory pressure.";
    case Cause::FinWait2Timeout:
      return "the closed connection waited in FIN_WAIT2 for the peer's FIN longer than allowed; "
             "the kernel reset it.";
    case Cause::KeepaliveTimeout:
      return "keepalive probes on the idle connection went unanswered; the kernel gave up and "
             "reset it.";
    case Cause::ProtocolViolation:
      return "the peer sent a segment that did not fit the connection (" +
             (x.rst_reason.empty() ? std::string("no reason given by this kernel") : x.rst_reason) +
             "); the kernel answered with RST.";
    case Cause::KeepaliveRace:
    case Cause::PeerAborted:
      // inferred only: explain() takes the sentence, with its numbers, from infer_remote()
      return std::string(cause_info(x.cause).meaning) + ".";
    case Cause::RemoteUnknown:
      return "the RST came from " + c.remote.str() +
             ", which is not traced on this host; nothing local (close, linger, state) explains it.";
  }
  return "";  // unreachable: the switch covers every Cause
}

}  // namespace

Explanation explain(const ResetCase& c) {
  Explanation x;
  x.reset = c;
  x.cause = classify(c);
  const CauseInfo& info = cause_info(x.cause);
  x.kernel_path = std::string(info.kernel_path);
  x.advice = std::string(info.advice);
  if (c.sent) {
    const Event& s = *c.sent;
    x.rst_reason = rst_reason_name(s.reason);
    x.rst_sent_locally = true;
    x.sent_netns = s.netns;
    if (s.has_socket) x.sender_state = tcp_state_name(s.state);
    if (s.has_socket && !s.timewait) {
      x.unread_bytes = s.unread;
      x.linger = Linger{s.linger_on, s.linger_on ? s.linger_ms / 1000.0 : 0.0};
    }
  }
  if (c.received) {
    x.rst_received_locally = true;
    x.received_netns = c.received->netns;
    x.receiver_state = tcp_state_name(c.received->state);
  }
  if (!c.sent && c.received) {
    RemoteVerdict v = infer_remote(c);
    x.because = v.because;
    x.inferred = x.cause != Cause::RemoteUnknown;
    x.evidence = std::move(v.evidence);
  } else {
    x.because = because_sentence(x);
    // this host sent it to a socket it does not see: name the receiver by address
    if (c.sent && !c.received && !c.receiver) {
      x.because += " The RST went to " + c.local.str() + " (another host, or not traced), which gets "
                   "ECONNRESET or EPIPE there.";
    }
  }
  // the catalog names the IPv4 function; an IPv6 connection went through its twin
  if (c.local.family == 10 || c.remote.family == 10) {
    for (size_t at = 0; (at = x.kernel_path.find("tcp_v4_send_reset", at)) != std::string::npos;) {
      x.kernel_path.replace(at, 17, "tcp_v6_send_reset");
    }
  }
  return x;
}

}  // namespace connreset
