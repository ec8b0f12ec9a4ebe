#include "correlate/task_context.h"

namespace connreset {

bool reset_sent_in_task_context(const Event& s) {
  if (!s.has_socket || !s.active || s.orphan || s.timewait) return false;
  switch (s.reason) {
    case RstReason::TcpAbortOnClose:      // __tcp_close with unread data
    case RstReason::TcpState:             // tcp_disconnect / tcp_abort (orphans excluded above)
    case RstReason::TcpDisconnectWithData:
      return true;
    case RstReason::Unavailable:  // kernels without reasons: an active RST from a socket
    case RstReason::NotSpecified:  // still owned is a syscall's, unless keepalive gave up
      return !(s.keepalive && s.probes_out > 0);
    default:
      return false;
  }
}

bool task_owns_socket(const Event& ev) {
  switch (ev.type) {
    case EventType::SockCall:
    case EventType::Close:
      return true;  // probes on the syscall path itself
    case EventType::StateChange:
      if (ev.state == tcp::kSynSent) return true;  // connect()
      // our FIN: close()/shutdown(SHUT_WR) set sk_shutdown before changing the state; an
      // orphan's FIN is sent later, from a timer or the peer's ACK
      return (ev.state == tcp::kFinWait1 || ev.state == tcp::kLastAck) &&
             (ev.shutdown & tcp::kShutdownSend) && !ev.orphan;
    case EventType::ResetSent:
      // close() with unread data or SO_LINGER 0; SOCK_DESTROY and connect(AF_UNSPEC) run in
      // task context too but not as a close (the destroyer is not the owner)
      return reset_sent_in_task_context(ev) && ev.closing_whole_socket();
    case EventType::ResetReceived:
      return false;  // processed in whoever's context delivered it (loopback: the sender)
  }
  return false;
}

}  // namespace connreset
