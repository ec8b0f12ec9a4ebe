#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>

namespace connreset {

// The cause catalog (docs/architecture.md, "Adding a cause"). ONE row per cause:
//   X(Enumerator, "id", inferred_only, "meaning", "kernel path", "advice")
// id is a stable interface (JSON `cause`, metrics labels, `report --cause`).
// inferred_only: the cause is only ever judged from the receiving side's own
// evidence (the sender is another host), so every explanation of it is inferred.
// Adding a cause = one row here + one case in explainer.cpp's sentence switch
// (an exhaustive switch: a cause without its sentence does not compile; the
// static_asserts in causes.cpp reject a row without meaning, path or advice).
#define CONNRESET_CAUSES(X)                                                                     \
  X(UnreadDataAtClose, "unread_data_at_close", false, "closer never read what the peer sent",   \
    "close() -> __tcp_close: unread data -> tcp_send_active_reset (TCP_ABORT_ON_CLOSE)",        \
    "read the request to the end before close() - or shutdown(SHUT_WR), read until recv() "     \
    "returns 0, then close().")                                                                 \
  X(LingerZeroClose, "linger_zero_close", false, "deliberate abortive close (SO_LINGER {1, 0})", \
    "close() -> __tcp_close: SO_LINGER 0 -> tcp_disconnect -> tcp_send_active_reset "           \
    "(TCP_STATE)",                                                                              \
    "don't set SO_LINGER {1, 0} unless an abortive close is really wanted; for an orderly end " \
    "use shutdown(SHUT_WR), read to EOF, then close().")                                        \
  X(DataAfterClose, "data_after_close", false, "peer kept sending after we closed",             \
    "segment with data for a socket whose receive side is shut -> tcp_reset + RST "             \
    "(TCP_ABORT_ON_DATA)",                                                                      \
    "the closing side must read until the peer has finished sending (protocol end or EOF) "     \
    "before close(); the peer must not send after the exchange is over.")                       \
  X(WriteAfterPeerClose, "write_after_peer_close", false,                                       \
    "we wrote to a connection the peer had already closed",                                     \
    "segment for a TIME_WAIT/no socket -> tcp_v4_send_reset (TCP_TIMEWAIT_SOCKET / NO_SOCKET)", \
    "treat recv() == 0 as 'peer closed' and stop writing; for pooled/keep-alive connections "   \
    "check liveness before reuse and retry idempotent requests on a new connection.")           \
  X(ConnectionRefused, "connection_refused", false, "nothing listens on that port",             \
    "SYN for a port without listener -> tcp_v4_send_reset (NO_SOCKET)",                         \
    "start the server, or fix the address/port; check it listens on that address and in "      \
    "that network namespace (containers).")                                                     \
  X(UnknownConnection, "unknown_connection", false, "peer lost the connection state",           \
    "segment for an unknown connection -> tcp_v4_send_reset (NO_SOCKET)",                       \
    "look for peer restarts and for NAT/conntrack/load-balancer idle timeouts shorter than "    \
    "the connection's idle time; use TCP keepalive below those timeouts and reconnect on "      \
    "ECONNRESET.")                                                                              \
  X(SocketDestroyed, "socket_destroyed", false, "an administrator or agent killed the socket",  \
    "SOCK_DESTROY (ss -K, bpf_sock_destroy) -> tcp_abort -> tcp_send_active_reset (TCP_STATE)", \
    "find out why that task killed the connection (cleanup script, policy agent); the "         \
    "application should reconnect.")                                                            \
  X(Disconnect, "disconnect", false, "tcp_disconnect outside close (connect(AF_UNSPEC))",       \
    "connect(AF_UNSPEC) -> tcp_disconnect -> tcp_send_active_reset (TCP_STATE)",                \
    "use shutdown()/close() for an orderly end; connect(AF_UNSPEC) aborts the connection.")     \
  X(OrphanMemoryPressure, "orphan_memory_pressure", false, "too many orphans / tcp_mem exceeded", \
    "tcp_check_oom / tcp_out_of_resources -> tcp_send_active_reset (TCP_ABORT_ON_MEMORY)",      \
    "raise net.ipv4.tcp_max_orphans or tcp_mem, or close fewer connections at once; watch "     \
    "TcpExtTCPAbortOnMemory in nstat.")                                                         \
  X(FinWait2Timeout, "fin_wait2_timeout", false,                                                \
    "closed connection waited too long for the peer's FIN",                                     \
    "orphan in FIN_WAIT2 -> tcp_keepalive_timer / __tcp_close -> tcp_send_active_reset "        \
    "(TCP_ABORT_ON_LINGER / TCP_STATE)",                                                        \
    "the peer must close its side after reading EOF; check TCP_LINGER2 and "                    \
    "net.ipv4.tcp_fin_timeout.")                                                                \
  X(KeepaliveTimeout, "keepalive_timeout", false, "keepalive probes unanswered",                \
    "tcp_keepalive_timer: probes exhausted -> tcp_send_active_reset (TCP_KEEPALIVE_TIMEOUT)",   \
    "the peer or the path is gone (host down, NAT/firewall state dropped); tune "               \
    "TCP_KEEPIDLE/TCP_KEEPINTVL/TCP_KEEPCNT and reconnect.")                                    \
  X(ProtocolViolation, "protocol_violation", false, "segment did not fit the connection",       \
    "tcp_validate_incoming / tcp_rcv_state_process -> RST (invalid ACK/SYN, PAWS, flags)",      \
    "look for middleboxes rewriting sequence numbers, timestamp (PAWS) problems or a peer "     \
    "bug; capture the exchange with tcpdump.")                                                  \
  X(KeepaliveRace, "keepalive_race", true,                                                      \
    "the peer's idle timeout closed the pooled connection as our request arrived",              \
    "RST received (sender another host) -> tcp_reset; inferred: request after an idle time, "   \
    "acknowledged, then reset",                                                                 \
    "keep the client's idle timeout for pooled connections below the server's (and the load "   \
    "balancer's), or check a connection before reuse; retry idempotent requests once on a new " \
    "connection.")                                                                              \
  X(PeerAborted, "peer_aborted", true,                                                          \
    "the peer's application aborted the connection (unread data, linger 0, or died)",           \
    "RST received (sender another host) -> tcp_reset; inferred: no FIN first, during an "       \
    "exchange",                                                                                 \
    "look at the peer application at that moment (crash, restart, timeout closing with unread " \
    "data, SO_LINGER 0); run connreset on the peer or merge its journal with `connreset "       \
    "report` for the exact cause.")                                                             \
  X(RemoteUnknown, "remote_unknown", false, "RST from a host connreset does not see",           \
    "RST received -> tcp_reset",                                                                \
    "run connreset on the peer (or `connreset record` there and merge the journals with "       \
    "`connreset report`); check load balancers, NAT and firewalls between the hosts.")

enum class Cause : uint8_t {
#define CONNRESET_CAUSE_ENUM(e, ...) e,
  CONNRESET_CAUSES(CONNRESET_CAUSE_ENUM)
#undef CONNRESET_CAUSE_ENUM
};

struct CauseInfo {
  Cause cause;
  std::string_view id;
  bool inferred_only;            // see the table's comment
  std::string_view meaning;      // short, for tables and docs
  std::string_view kernel_path;  // how the kernel sends this RST
  std::string_view advice;       // what to change
};

inline constexpr std::array kAllCauses = {
#define CONNRESET_CAUSE_LIST(e, ...) Cause::e,
    CONNRESET_CAUSES(CONNRESET_CAUSE_LIST)
#undef CONNRESET_CAUSE_LIST
};
inline constexpr size_t kCauseCount = kAllCauses.size();

// Every cause's row, in catalog order (iterate this for docs, help, metrics).
const std::array<CauseInfo, kCauseCount>& cause_catalog();
const CauseInfo& cause_info(Cause c);
std::string_view cause_id(Cause c);

// "unread_data_at_close" -> Cause::UnreadDataAtClose; nullopt for an unknown id.
std::optional<Cause> cause_from_id(std::string_view id);
// The same, for user input: throws std::invalid_argument whose message names
// the bad id and lists the valid ones.
Cause parse_cause(std::string_view id);
// "unread_data_at_close, linger_zero_close, ..." (for --help and errors).
std::string cause_ids(std::string_view separator = ", ");

std::ostream& operator<<(std::ostream& os, Cause c);  // the id (test output)

}  // namespace connreset
