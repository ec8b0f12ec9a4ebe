#include "explain/explainer.h"

#include "common/escape.h"
#include "common/names.h"
#include "explain/causes.h"

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
std::string classify_no_socket(const ResetCase& c) {
  const Event& s = *c.sent;
  if ((s.seg_flags & tcp::kSegSyn) && !(s.seg_flags & tcp::kSegAck)) return "connection_refused";
  if (c.received && c.received->state == tcp::kSynSent) return "connection_refused";
  if (c.sender_had_closed || c.sender_had_peer_fin) return "write_after_peer_close";
  return "unknown_connection";
}

// Kernels without RST reasons, or NOT_SPECIFIED: read the same facts the
// reason would encode from the socket at the moment of the RST, and from the
// state it was in just before.
std::string classify_from_socket_state(const ResetCase& c) {
  const Event& s = *c.sent;
  if (!s.has_socket) return classify_no_socket(c);
  if (s.timewait) return "write_after_peer_close";
  if (!s.active) {
    if (s.state == tcp::kListen) return "protocol_violation";  // a non-SYN to a listener
    if (s.shutdown & tcp::kShutdownRecv) return "data_after_close";
    return c.received ? "remote_unknown" : "protocol_violation";
  }
  // __tcp_close checks unread data, then SO_LINGER 0, before the socket is orphaned
  if (s.closing_whole_socket() && !s.orphan) {
    if (s.unread > 0) return "unread_data_at_close";
    if (s.linger_on && s.linger_ms == 0) return "linger_zero_close";
  }
  if (s.keepalive && s.probes_out > 0 && !s.orphan) return "keepalive_timeout";
  if (s.orphan) {
    const bool fin_wait2 = s.state == tcp::kFinWait2 || c.sender_prev_state == tcp::kFinWait2;
    return fin_wait2 ? "fin_wait2_timeout" : "orphan_memory_pressure";
  }
  // tcp_abort sends before tcp_done, tcp_disconnect after setting CLOSE
  if (s.state != tcp::kClose) return "socket_destroyed";
  return "disconnect";
}

}  // namespace

std::string classify(const ResetCase& c) {
  if (!c.sent) {
    // connect() got RST for its SYN; the kernel's answer was not seen (older kernels' tracepoint)
    if (c.received && c.received->state == tcp::kSynSent) return "connection_refused";
    return "remote_unknown";
  }
  const Event& s = *c.sent;
  switch (s.reason) {
    case RstReason::TcpAbortOnClose: return "unread_data_at_close";
    case RstReason::TcpState:
      // tcp_keepalive_timer: orphan that timed out in FIN_WAIT2
      if (s.orphan && s.state == tcp::kFinWait2) return "fin_wait2_timeout";
      // tcp_abort sends before tcp_done, tcp_disconnect after setting CLOSE
      if (s.state != tcp::kClose) return "socket_destroyed";
      if (s.closing_whole_socket() && s.linger_on && s.linger_ms == 0) return "linger_zero_close";
      if (s.closing_whole_socket() && s.unread > 0) return "unread_data_at_close";
      return "disconnect";
    case RstReason::TcpDisconnectWithData: return "disconnect";
    case RstReason::TcpAbortOnData: return "data_after_close";
    case RstReason::TcpTimewaitSocket: return "write_after_peer_close";
    case RstReason::NoSocket: return classify_no_socket(c);
    case RstReason::TcpAbortOnMemory: return "orphan_memory_pressure";
    case RstReason::TcpAbortOnLinger: return "fin_wait2_timeout";
    case RstReason::TcpKeepaliveTimeout: return "keepalive_timeout";
    default:
      if (is_protocol_violation(s.reason)) return "protocol_violation";
      return classify_from_socket_state(c);
  }
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

std::string because_sentence(const std::string& cause, const Explanation& x) {
  const ResetCase& c = x.reset;
  const std::string closer = c.closer ? task_label(c.closer->task) : who(c.actor, who(c.sender, "the peer"));
  const std::string receiver = who(c.receiver, "the peer");
  const std::string sender = who(c.sender, "its owner");
  const bool died = c.closer && c.closer->exiting;

  if (cause == "unread_data_at_close") {
    const std::string n = bytes_phrase(x.unread_bytes.value_or(0));
    const std::string how = died ? " died (killed, crashed or exit() without close) holding " + n +
                                       "; the kernel closed its socket"
                                 : " close()d its end with " + n;
    return closer + how + ". Linux answers a close with unread data with RST instead of FIN "
           "and discards that data (RFC 2525 2.17).";
  }
  if (cause == "linger_zero_close") {
    return closer + (died ? " died with" : " closed its end with") +
           " SO_LINGER {on, 0 s}: an abortive close, which sends RST instead of FIN and "
           "discards unsent data.";
  }
  if (cause == "connection_refused") {
    return "nothing listens on " + c.remote.str() + " (netns " + std::to_string(c.netns) +
           "); the kernel answered " + receiver + "'s SYN with RST and connect() failed with "
           "ECONNREFUSED.";
  }
  if (cause == "data_after_close") {
    return closer + " had already closed its end when more data from " + receiver +
           " arrived; Linux cannot deliver it and answers with RST.";
  }
  if (cause == "write_after_peer_close") {
    return receiver + " sent on a connection that " + sender +
           " had already closed; with no socket left for it, the peer's stack answered RST.";
  }
  if (cause == "unknown_connection") {
    return c.remote.str() + " has no socket for this connection (peer restarted, lost its "
           "state or its namespace is gone) and answered " + receiver + "'s segment with RST.";
  }
  if (cause == "socket_destroyed") {
    return who(c.actor, "another task") + " destroyed the socket of " + sender +
           " (SOCK_DESTROY, e.g. ss -K); the kernel sent RST.";
  }
  if (cause == "disconnect") {
    return who(c.actor, sender) + " disconnected the connected socket (tcp_disconnect, e.g. "
           "connect(AF_UNSPEC)), which resets the connection.";
  }
  if (cause == "orphan_memory_pressure") {
    return "the kernel reset a connection already closed by its owner because of too many "
           "orphaned sockets or TCP memory pressure.";
  }
  if (cause == "fin_wait2_timeout") {
    return "the closed connection waited in FIN_WAIT2 for the peer's FIN longer than allowed; "
           "the kernel reset it.";
  }
  if (cause == "keepalive_timeout") {
    return "keepalive probes on the idle connection went unanswered; the kernel gave up and "
           "reset it.";
  }
  if (cause == "protocol_violation") {
    return "the peer sent a segment that did not fit the connection (" +
           (x.rst_reason.empty() ? std::string("no reason given by this kernel") : x.rst_reason) +
           "); the kernel answered with RST.";
  }
  // remote_unknown
  return "the RST came from " + c.remote.str() +
         ", which is not traced on this host; nothing local (close, linger, state) explains it.";
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
    if (s.has_socket && !s.timewait) {
      x.unread_bytes = s.unread;
      x.linger = Linger{s.linger_on, s.linger_on ? s.linger_ms / 1000.0 : 0.0};
    }
  }
  x.because = because_sentence(x.cause, x);
  return x;
}

}  // namespace connreset
