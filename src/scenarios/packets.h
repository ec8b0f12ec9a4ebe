#pragma once
// Raw kernel interfaces some scenarios need: what `ss -K` does, and forged
// TCP segments (a middlebox's RST, a segment that fits no connection).
#include <netinet/in.h>

#include <cstdint>
#include <string>

namespace connreset::kit {

// SOCK_DESTROY over NETLINK_SOCK_DIAG for the IPv4 TCP socket local -> remote
// (needs CAP_NET_ADMIN and CONFIG_INET_DIAG_DESTROY). Returns "" or the error.
std::string destroy_socket(const sockaddr_in& local, const sockaddr_in& remote);

// Sends one TCP segment through a raw socket, bypassing the TCP stack (so no
// tcp_send_reset fires for it). flags: TH_RST, TH_ACK, ... Returns "" or the error.
std::string send_raw_segment(const sockaddr_in& from, const sockaddr_in& to, uint32_t seq,
                             uint32_t ack, uint8_t flags);

// The next sequence number fd will send (TCP_REPAIR); leaves fd in repair mode,
// so that close() afterwards is silent (no FIN, no RST). Returns false on error.
bool enter_repair_and_get_snd_nxt(int fd, uint32_t* snd_nxt);

}  // namespace connreset::kit
