#pragma once
#include <cstdint>
#include <string>

#include "common/endpoint.h"
#include "connreset.h"  // the kernel/user contract: its lists generate the enums below

namespace connreset {

// The typed form of struct cr_event (bpf/connreset.h). Everything after the
// decoder works on this; only the decoder reads the raw struct. The enums and
// constants come from the header's lists, so the two sides cannot disagree.
enum class EventType : uint8_t {
  ResetSent = CR_EV_RESET_SENT, ResetReceived = CR_EV_RESET_RECEIVED, StateChange = CR_EV_STATE,
  SockCall = CR_EV_SOCK_CALL, Close = CR_EV_CLOSE,
};

// enum cr_rst_reason, generated from CR_RST_REASONS; names via rst_reason_name().
enum class RstReason : uint8_t {
#define CONNRESET_RST_REASON(name, camel, value, kind) camel = value,
  CR_RST_REASONS(CONNRESET_RST_REASON)
#undef CONNRESET_RST_REASON
};
// Kernel enumerator name without the SK_RST_REASON_ prefix ("TCP_ABORT_ON_CLOSE"); "" for Unavailable.
std::string rst_reason_name(RstReason r);

enum class Call : uint8_t { Recv = CR_CALL_RECV, Send = CR_CALL_SEND };
enum class Phase : uint8_t { Data = CR_PHASE_DATA, Eof = CR_PHASE_EOF, Error = CR_PHASE_ERROR };

// The default of --loop-threshold, shared with the BPF side's loop_report_first.
inline constexpr uint32_t kDefaultLoopThreshold = CR_LOOP_THRESHOLD_DEFAULT;

namespace tcp {
// include/net/tcp_states.h, generated from CR_TCP_STATES: kEstablished, kSynSent, ...
#define CONNRESET_TCP_STATE(name, camel, value) inline constexpr uint8_t k##camel = value;
CR_TCP_STATES(CONNRESET_TCP_STATE)
#undef CONNRESET_TCP_STATE
inline constexpr uint8_t kShutdownRecv = 1, kShutdownSend = 2, kShutdownBoth = 3;
inline constexpr uint8_t kSegFin = CR_TCP_FIN, kSegSyn = CR_TCP_SYN, kSegRst = CR_TCP_RST,
                         kSegAck = CR_TCP_ACK;
}  // namespace tcp

struct TaskRef {
  uint32_t pid = 0;  // tgid
  uint32_t tid = 0;
  std::string comm;
  uint64_t cgroup = 0;
  bool operator==(const TaskRef&) const = default;
};

// What a socket knew about its connection when an RST arrived (ResetReceived only);
// the evidence for explaining an RST whose sender is another host.
struct RstEvidence {
  bool socket = false;      // the tcp_sock fields below were read
  bool times = false;       // since_*_ms are valid (the kernel's HZ was known)
  bool segment = false;     // the probe saw the RST segment: rst_flags, rst_acked
  bool not_rst = false;     // tcp_reset() ran for a local abort on data, not an incoming RST
  bool connect = false;     // the event's task connect()ed the socket at opened_ns; the kernel
                            // left that record out (its quiet path): see connect_record()
  uint32_t since_send_ms = 0;  // last data we sent, before the RST
  uint32_t since_recv_ms = 0;  // last data we received
  uint32_t since_ack_ms = 0;   // last ACK we received
  uint32_t unacked = 0;        // our bytes in flight (snd_nxt - snd_una)
  uint32_t srtt_us = 0;
  uint32_t retrans = 0;
  uint32_t rst_acked = 0;      // RST|ACK: its ack_seq - snd_una
  uint8_t rst_flags = 0;       // TCP flags of the RST (segment only)
  uint64_t bytes_acked = 0;
  uint64_t bytes_received = 0;
  // From the socket's storage, where the kernel's quiet path keeps the times of the state
  // changes it leaves out (CLOCK_MONOTONIC; 0: not known, or recorded as a state change)
  uint64_t opened_ns = 0;  // set up: accepted (SYN_RECV -> ESTABLISHED) or connect()ed
  uint64_t fin_ns = 0;     // the peer's FIN arrived (ESTABLISHED -> CLOSE_WAIT)
  bool operator==(const RstEvidence&) const = default;
};

// The owner's FIN (close()/shutdown()) whose state record the kernel left out and put on
// the socket's close record (StateChange to CLOSE; bpf/owner.bpf.h): see fin_record().
struct CarriedFin {
  bool carried = false;
  uint64_t ts_ns = 0;     // when the FIN was sent (CLOCK_MONOTONIC)
  uint8_t old_state = 0;  // ESTABLISHED -> FIN_WAIT1, CLOSE_WAIT -> LAST_ACK, ...
  uint8_t state = 0;
  uint8_t shutdown = 0;   // sk_shutdown then: 2 shutdown(SHUT_WR), 3 close()
  bool operator==(const CarriedFin&) const = default;
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
  uint8_t old_state = 0;  // StateChange; ResetSent: the state before CLOSE when the kernel left
                          // that change out for this RST (its quiet path), else 0
  RstReason reason = RstReason::Unavailable;
  bool active = false;          // RST from tcp_send_active_reset (not answering a segment)
  bool has_socket = false;      // false: a no-socket reply RST
  bool timewait = false;        // the socket was a TIME_WAIT mini socket
  bool linger_on = false;
  bool task_exiting = false;    // PF_EXITING: killed, crashed or exit()ing
  bool orphan = false;          // SOCK_DEAD: no file refers to the socket any more
  bool fin_received = false;    // SOCK_DONE
  bool closes_after = false;    // ResetSent: tcp_done() follows this active RST and the kernel
                                // left that X -> CLOSE out (its quiet path): closed here
  uint8_t shutdown = 0;         // sk_shutdown bits
  uint8_t seg_flags = 0;        // flags of the segment an RST answered
  uint32_t unread = 0;          // tcp_inq at the event
  uint32_t linger_ms = 0;
  bool keepalive = false;       // SO_KEEPALIVE on
  uint8_t probes_out = 0;       // unanswered keepalive/window probes
  RstEvidence evidence;         // ResetReceived only
  CarriedFin fin;               // StateChange to CLOSE only; its task fields are the FIN's

  // SockCall only
  Call call = Call::Recv;
  Phase phase = Phase::Data;
  int32_t ret = 0;       // last result: bytes or -errno
  uint64_t count = 0;    // calls in this phase so far
  uint64_t bytes = 0;    // bytes the reported call moved (data phase)

  bool closing_whole_socket() const { return shutdown == tcp::kShutdownBoth; }
};

// A state change of the carrier's socket in the carrier's task: a record the kernel left
// out and put on the carrier instead (its quiet path, bpf/owner.bpf.h).
inline Event carried_state(const Event& carrier, uint64_t ts_ns, uint8_t from, uint8_t to) {
  Event e;
  e.type = EventType::StateChange;
  e.ts_ns = ts_ns;
  e.cookie = carrier.cookie;
  e.netns = carrier.netns;
  e.local = carrier.local;
  e.remote = carrier.remote;
  e.task = carrier.task;
  e.old_state = from;
  e.state = to;
  e.has_socket = true;
  return e;
}

// The connect() record (CLOSE -> SYN_SENT in the connecting task, at opened_ns) that a
// ResetReceived with evidence.connect carries instead of it being written before it
// (bpf/owner.bpf.h); every reader of events takes it before that ResetReceived.
inline Event connect_record(const Event& rr) {
  return carried_state(rr, rr.evidence.opened_ns, tcp::kClose, tcp::kSynSent);
}

// The FIN record (old -> FIN_WAIT1/LAST_ACK in the closing task, at fin.ts_ns) that a close
// record with fin.carried carries instead of it being written before it; every reader of
// events takes it before that close record.
inline Event fin_record(const Event& close) {
  Event f = carried_state(close, close.fin.ts_ns, close.fin.old_state, close.fin.state);
  f.task_exiting = close.task_exiting;
  f.shutdown = close.fin.shutdown;
  f.fin_received = close.fin.state == tcp::kLastAck;  // the peer's FIN came first
  return f;
}

}  // namespace connreset
