#include "explain/causes.h"

#include <stdexcept>
#include <string>

namespace connreset {

const std::vector<CauseInfo>& cause_catalog() {
  static const std::vector<CauseInfo> kCatalog = {
      {"unread_data_at_close", "closer never read what the peer sent",
       "close() -> __tcp_close: unread data -> tcp_send_active_reset (TCP_ABORT_ON_CLOSE)",
       "read the request to the end before close() - or shutdown(SHUT_WR), read until recv() "
       "returns 0, then close()."},
      {"linger_zero_close", "deliberate abortive close (SO_LINGER {1, 0})",
       "close() -> __tcp_close: SO_LINGER 0 -> tcp_disconnect -> tcp_send_active_reset (TCP_STATE)",
       "don't set SO_LINGER {1, 0} unless an abortive close is really wanted; for an orderly end "
       "use shutdown(SHUT_WR), read to EOF, then close()."},
      {"data_after_close", "peer kept sending after we closed",
       "segment with data for a socket whose receive side is shut -> tcp_reset + RST "
       "(TCP_ABORT_ON_DATA)",
       "the closing side must read until the peer has finished sending (protocol end or EOF) "
       "before close(); the peer must not send after the exchange is over."},
      {"write_after_peer_close", "we wrote to a connection the peer had already closed",
       "segment for a TIME_WAIT/no socket -> tcp_v4_send_reset (TCP_TIMEWAIT_SOCKET / NO_SOCKET)",
       "treat recv() == 0 as 'peer closed' and stop writing; for pooled/keep-alive connections "
       "check liveness before reuse and retry idempotent requests on a new connection."},
      {"connection_refused", "nothing listens on that port",
       "SYN for a port without listener -> tcp_v4_send_reset (NO_SOCKET)",
       "start the server, or fix the address/port; check it listens on that address and in "
       "that network namespace (containers)."},
      {"unknown_connection", "peer lost the connection state",
       "segment for an unknown connection -> tcp_v4_send_reset (NO_SOCKET)",
       "look for peer restarts and for NAT/conntrack/load-balancer idle timeouts shorter than "
       "the connection's idle time; use TCP keepalive below those timeouts and reconnect on "
       "ECONNRESET."},
      {"socket_destroyed", "an administrator or agent killed the socket",
       "SOCK_DESTROY (ss -K, bpf_sock_destroy) -> tcp_abort -> tcp_send_active_reset (TCP_STATE)",
       "find out why that task killed the connection (cleanup script, policy agent); the "
       "application should reconnect."},
      {"disconnect", "tcp_disconnect outside close (connect(AF_UNSPEC))",
       "connect(AF_UNSPEC) -> tcp_disconnect -> tcp_send_active_reset (TCP_STATE)",
       "use shutdown()/close() for an orderly end; connect(AF_UNSPEC) aborts the connection."},
      {"orphan_memory_pressure", "too many orphans / tcp_mem exceeded",
       "tcp_check_oom / tcp_out_of_resources -> tcp_send_active_reset (TCP_ABORT_ON_MEMORY)",
       "raise net.ipv4.tcp_max_orphans or tcp_mem, or close fewer connections at once; watch "
       "TcpExtTCPAbortOnMemory in nstat."},
      {"fin_wait2_timeout", "closed connection waited too long for the peer's FIN",
       "orphan in FIN_WAIT2 -> tcp_keepalive_timer / __tcp_close -> tcp_send_active_reset "
       "(TCP_ABORT_ON_LINGER / TCP_STATE)",
       "the peer must close its side after reading EOF; check TCP_LINGER2 and "
       "net.ipv4.tcp_fin_timeout."},
      {"keepalive_timeout", "keepalive probes unanswered",
       "tcp_keepalive_timer: probes exhausted -> tcp_send_active_reset (TCP_KEEPALIVE_TIMEOUT)",
       "the peer or the path is gone (host down, NAT/firewall state dropped); tune "
       "TCP_KEEPIDLE/TCP_KEEPINTVL/TCP_KEEPCNT and reconnect."},
      {"protocol_violation", "segment did not fit the connection",
       "tcp_validate_incoming / tcp_rcv_state_process -> RST (invalid ACK/SYN, PAWS, flags)",
       "look for middleboxes rewriting sequence numbers, timestamp (PAWS) problems or a peer "
       "bug; capture the exchange with tcpdump."},
      {"remote_unknown", "RST from a host connreset does not see",
       "RST received -> tcp_reset",
       "run connreset on the peer (or `connreset record` there and merge the journals with "
       "`connreset report`); check load balancers, NAT and firewalls between the hosts."},
  };
  return kCatalog;
}

const CauseInfo& cause_info(std::string_view id) {
  for (const CauseInfo& c : cause_catalog()) {
    if (c.id == id) return c;
  }
  throw std::out_of_range("unknown cause id " + std::string(id));
}

}  // namespace connreset
