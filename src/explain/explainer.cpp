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

namespace {

// "comm[pid]", appended
void append_label(std::string& s, const TaskRef& t) {
  append_escaped_for_terminal(s, t.comm);
  s += '[';
  s += std::to_string(t.pid);
  s += ']';
}

}  // namespace

std::string task_label(const TaskRef& t) {
  std::string s;
  append_label(s, t);
  return s;
}

namespace {

// The sentence is appended part by part to one string: in a reset storm, building it from
// temporaries joined with + was an allocation per part (perf/callgrind, issue #14).
class Sentence {
 public:
  Sentence() { s_.reserve(256); }
  Sentence& operator<<(std::string_view text) {
    s_ += text;
    return *this;
  }
  Sentence& operator<<(const TaskRef& t) {
    append_label(s_, t);
    return *this;
  }
  // the task's label, or `otherwise` when it is not known
  Sentence& who(const std::optional<TaskRef>& t, std::string_view otherwise) {
    return t ? *this << *t : *this << otherwise;
  }
  std::string take() { return std::move(s_); }

 private:
  std::string s_;
};

std::string because_sentence(const Explanation& x) {
  const ResetCase& c = x.reset;
  const bool died = c.closer && c.closer->exiting;
  Sentence s;
  // who closed: the closing task, else the task whose syscall sent it, else the sender's owner
  auto closer = [&]() -> Sentence& {
    if (c.closer) return s << c.closer->task;
    return c.actor ? s << *c.actor : s.who(c.sender, "the peer");
  };

  // Exhaustive (no default): a cause added to the catalog without its sentence does not compile.
  switch (x.cause) {
    case Cause::UnreadDataAtClose: {
      const uint32_t n = x.unread_bytes.value_or(0);
      const std::string_view unit = n == 1 ? " unread byte" : " unread bytes";
      if (died) {
        closer() << " died (killed, crashed or exit() without close) holding " << thousands(n) << unit
                 << "; the kernel closed its socket";
      } else {
        closer() << " close()d its end with " << thousands(n) << unit;
      }
      s << ". Linux answers a close with unread data with RST instead of FIN and discards that "
           "data (RFC 2525 2.17).";
      break;
    }
    case Cause::LingerZeroClose:
      closer() << (died ? " died with" : " closed its end with")
               << " SO_LINGER {on, 0 s}: an abortive close, which sends RST instead of FIN and "
                  "discards unsent data.";
      break;
    case Cause::ConnectionRefused:
      s << "nothing listens on " << c.remote.str() << " (netns " << std::to_string(c.netns)
        << "); the kernel answered ";
      s.who(c.receiver, "the peer") << "'s SYN with RST and connect() failed with ECONNREFUSED.";
      break;
    case Cause::DataAfterClose:
      closer() << " had already closed its end when more data from ";
      s.who(c.receiver, "the peer") << " arrived; Linux cannot deliver it and answers with RST.";
      break;
    case Cause::WriteAfterPeerClose:
      s.who(c.receiver, "the peer") << " sent on a connection that ";
      s.who(c.sender, "its owner")
          << " had already closed; with no socket left for it, the peer's stack answered RST.";
      break;
    case Cause::UnknownConnection:
      s << c.remote.str() << " has no socket for this connection (peer restarted, lost its state or "
                             "its namespace is gone) and answered ";
      s.who(c.receiver, "the peer") << "'s segment with RST.";
      break;
    case Cause::SocketDestroyed:
      s.who(c.actor, "another task") << " destroyed the socket of ";
      s.who(c.sender, "its owner") << " (SOCK_DESTROY, e.g. ss -K); the kernel sent RST.";
      break;
    case Cause::Disconnect:
      (c.actor ? s << *c.actor : s.who(c.sender, "its owner"))
          << " disconnected the connected socket (tcp_disconnect, e.g. connect(AF_UNSPEC)), which "
             "resets the connection.";
      break;
    case Cause::OrphanMemoryPressure:
      s << "the kernel reset a connection already closed by its owner because of too many "
           "orphaned sockets or TCP memory pressure.";
      break;
    case Cause::FinWait2Timeout:
      s << "the closed connection waited in FIN_WAIT2 for the peer's FIN longer than allowed; "
           "the kernel reset it.";
      break;
    case Cause::KeepaliveTimeout:
      s << "keepalive probes on the idle connection went unanswered; the kernel gave up and "
           "reset it.";
      break;
    case Cause::ProtocolViolation:
      s << "the peer sent a segment that did not fit the connection ("
        << (x.rst_reason.empty() ? std::string_view("no reason given by this kernel") : x.rst_reason)
        << "); the kernel answered with RST.";
      break;
    case Cause::KeepaliveRace:
    case Cause::PeerAborted:
      // inferred only: explain() takes the sentence, with its numbers, from infer_remote()
      s << cause_info(x.cause).meaning << ".";
      break;
    case Cause::RemoteUnknown:
      s << "the RST came from " << c.remote.str()
        << ", which is not traced on this host; nothing local (close, linger, state) explains it.";
      break;
  }
  return s.take();
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
