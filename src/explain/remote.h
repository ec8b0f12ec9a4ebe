#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "correlate/reset_case.h"
#include "explain/causes.h"

namespace connreset {

// An RST that a local socket received from a sender connreset cannot see
// (another host, a load balancer, a NAT): what this host's own socket knew,
// in user terms, and the cause inferred from it.
struct RemoteEvidence {
  std::string state;                       // the receiving socket's TCP state at the RST
  std::optional<double> fin_before_send_s;  // the peer's FIN came this long before our last send (< 0: after)
  std::optional<double> since_send_s;       // our last data, before the RST
  std::optional<double> since_recv_s;       // the peer's last data, before the RST
  std::optional<double> since_ack_s;        // the peer's last ACK, before the RST
  std::optional<double> idle_before_send_s;  // no data either way for this long before our last send
  std::optional<uint32_t> unacked_bytes;    // ours, sent and not acknowledged
  std::optional<double> srtt_ms;
  std::optional<uint32_t> retrans;
  std::optional<std::string> rst_flags;     // "RST|ACK", "RST"; nullopt: this probe cannot see the segment
  std::optional<uint32_t> rst_acked;        // RST|ACK: how many of our unacked bytes it acknowledged
  std::optional<uint64_t> bytes_acked;      // ours the peer acknowledged over the connection
  std::optional<uint64_t> bytes_received;   // the peer's, over the connection
  std::optional<double> age_s;              // since the connection was set up
  std::vector<std::string> missing;         // evidence this run could not read
};

// Rule thresholds (README "When the other end is another host").
namespace remote_rules {
// Idle this long (no data either way) before our last send: a pooled / keep-alive connection.
inline constexpr uint32_t kIdleMs = 1000;
// An RST within this long after our send answered it (also at least 4 smoothed RTTs).
inline constexpr uint32_t kReplyMs = 200;
// keepalive race: the RST followed the acknowledged request within this long.
inline constexpr uint32_t kRaceMs = 1000;
// A FIN this much before our send counts as "before" (the send time comes from jiffies).
inline constexpr uint64_t kFinOrderSlackNs = 10'000'000;
}  // namespace remote_rules

struct RemoteVerdict {
  Cause cause = Cause::RemoteUnknown;
  std::string because;   // one sentence, with the numbers
  std::string hint;      // e.g. which common idle timeout the idle time matches; "" if none
  RemoteEvidence evidence;
};

// The received-only case (no local sender) judged from the receiving socket's evidence.
RemoteVerdict infer_remote(const ResetCase& c);

// The idle timeout default an idle time matches ("60 s: ..."), "" if none.
std::string idle_timeout_hint(double idle_s);

// "1.80 s", "350 ms"
std::string seconds_phrase(double s);

}  // namespace connreset
