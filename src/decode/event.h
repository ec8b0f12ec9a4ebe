#pragma once
#include <cstdint>
#include <string>

#include "common/endpoint.h"

namespace connreset {

// The typed form of struct cr_event (bpf/connreset.h). Everything after the
// decoder works on this; nothing after it includes the raw header.
enum class EventType : uint8_t { ResetSent = 1, ResetReceived, StateChange, SockCall, Close };

// Mirrors enum cr_rst_reason; names via rst_reason_name().
enum class RstReason : uint8_t {
  Unavailable = 0, NotSpecified, NoSocket, TcpInvalidAckSequence, TcpRfc7323Paws, TcpTooOldAck,
  TcpAckUnsentData, TcpFlags, TcpOldAck, TcpAbortOnData, TcpTimewaitSocket, InvalidSyn,
  TcpAbortOnClose, TcpAbortOnLinger, TcpAbortOnMemory, TcpState, TcpKeepaliveTimeout,
  TcpDisconnectWithData, Mptcp, Error, Other,
};
// Kernel enumerator name without the SK_RST_REASON_ prefix ("TCP_ABORT_ON_CLOSE"); "" for Unavailable.
std::string rst_reason_name(RstReason r);

enum class Call : uint8_t { Recv = 0, Send = 1 };
enum class Phase : uint8_t { Data = 0, Eof = 1, Error = 2 };

namespace tcp {
// include/net/tcp_states.h
inline constexpr uint8_t kEstablished = 1, kSynSent = 2, kSynRecv = 3, kFinWait1 = 4,
                         kFinWait2 = 5, kTimeWait = 6, kClose = 7, kCloseWait = 8, kLastAck = 9,
                         kListen = 10, kClosing = 11;
inline constexpr uint8_t kShutdownRecv = 1, kShutdownSend = 2, kShutdownBoth = 3;
inline constexpr uint8_t kSegFin = 0x01, kSegSyn = 0x02, kSegRst = 0x04, kSegAck = 0x10;
}  // namespace tcp

struct TaskRef {
  uint32_t pid = 0;  // tgid
  uint32_t tid = 0;
  std::string comm;
  uint64_t cgroup = 0;
  bool operator==(const TaskRef&) const = default;
};

struct Event {
  EventType type = EventType::StateChange;
  uint64_t ts_ns = 0;   // CLOCK_MONOTONIC
  uint64_t cookie = 0;  // socket cookie; 0 = no socket
  uint32_t netns = 0;
  Endpoint local;       // from the socket's own point of view
  Endpoint remote;
  TaskRef task;         // current when the probe fired: trust depends on type (see correlate/)

  uint8_t state = 0;      // TCP state (StateChange: the new state)
  uint8_t old_state = 0;  // StateChange only
  RstReason reason = RstReason::Unavailable;
  bool active = false;          // RST from tcp_send_active_reset (not answering a segment)
  bool has_socket = false;      // false: a no-socket reply RST
  bool timewait = false;        // the socket was a TIME_WAIT mini socket
  bool linger_on = false;
  bool task_exiting = false;    // PF_EXITING: killed, crashed or exit()ing
  bool orphan = false;          // SOCK_DEAD: no file refers to the socket any more
  bool fin_received = false;    // SOCK_DONE
  uint8_t shutdown = 0;         // sk_shutdown bits
  uint8_t seg_flags = 0;        // flags of the segment an RST answered
  uint32_t unread = 0;          // tcp_inq at the event
  uint32_t linger_ms = 0;
  bool keepalive = false;       // SO_KEEPALIVE on
  uint8_t probes_out = 0;       // unanswered keepalive/window probes

  // SockCall only
  Call call = Call::Recv;
  Phase phase = Phase::Data;
  int32_t ret = 0;       // last result: bytes or -errno
  uint64_t count = 0;    // calls in this phase so far
  uint64_t bytes = 0;    // bytes the reported call moved (data phase)

  bool closing_whole_socket() const { return shutdown == tcp::kShutdownBoth; }
};

}  // namespace connreset
