#pragma once
// Synthetic kernel events for unit tests: each helper builds what the probe
// would emit in that situation, so tests read like the scenario they prove.
#include <sys/socket.h>

#include <cerrno>

#include "decode/event.h"

namespace connreset::testing {

inline constexpr uint32_t kNetns = 4026531840;
inline constexpr uint64_t kMs = 1'000'000;

inline Endpoint ep(uint16_t port, uint32_t addr = 0x7f000001) { return Endpoint::ipv4(addr, port); }

inline TaskRef task(uint32_t pid, const char* comm) { return TaskRef{pid, pid, comm, 100}; }

struct Conn {
  uint64_t cookie;
  Endpoint local;
  Endpoint remote;
  uint32_t netns = kNetns;
};

inline Event base(EventType type, uint64_t ts, const Conn& c, const TaskRef& t) {
  Event e;
  e.type = type;
  e.ts_ns = ts;
  e.cookie = c.cookie;
  e.netns = c.netns;
  e.local = c.local;
  e.remote = c.remote;
  e.task = t;
  e.has_socket = true;
  return e;
}

inline Event state(uint64_t ts, const Conn& c, const TaskRef& t, uint8_t from, uint8_t to,
                   uint8_t shutdown = 0) {
  Event e = base(EventType::StateChange, ts, c, t);
  e.old_state = from;
  e.state = to;
  e.shutdown = shutdown;
  return e;
}

inline Event call(uint64_t ts, const Conn& c, const TaskRef& t, Call which, Phase phase, int ret,
                  uint64_t count = 1) {
  Event e = base(EventType::SockCall, ts, c, t);
  e.state = tcp::kEstablished;
  e.call = which;
  e.phase = phase;
  e.ret = ret;
  e.count = count;
  return e;
}

// close() with unread bytes: __tcp_close -> tcp_send_active_reset, in the closer's task
inline Event abort_on_close(uint64_t ts, const Conn& c, const TaskRef& closer, uint32_t unread) {
  Event e = base(EventType::ResetSent, ts, c, closer);
  e.reason = RstReason::TcpAbortOnClose;
  e.active = true;
  e.state = tcp::kClose;
  e.shutdown = tcp::kShutdownBoth;
  e.unread = unread;
  return e;
}

inline Event linger_zero_close(uint64_t ts, const Conn& c, const TaskRef& closer) {
  Event e = base(EventType::ResetSent, ts, c, closer);
  e.reason = RstReason::TcpState;
  e.active = true;
  e.state = tcp::kClose;
  e.shutdown = tcp::kShutdownBoth;
  e.linger_on = true;
  e.linger_ms = 0;
  return e;
}

// softirq: `current` is whoever happened to run (on loopback: the RST's sender)
inline Event rst_received(uint64_t ts, const Conn& c, const TaskRef& current_task,
                          uint8_t st = tcp::kEstablished) {
  Event e = base(EventType::ResetReceived, ts, c, current_task);
  e.state = st;
  return e;
}

// A listening socket answering a non-SYN segment of a connection it does not have (its
// accepted socket is gone): tcp_rcv_state_process in LISTEN; TCP_FLAGS on 6.10+.
inline Event listener_reply(uint64_t ts, const Conn& listener, const TaskRef& current_task) {
  Event e = base(EventType::ResetSent, ts, listener, current_task);
  e.state = tcp::kListen;
  e.reason = RstReason::TcpFlags;
  return e;
}

// RST answering a segment no socket wants; tuple from the segment, seen from the RST sender
inline Event no_socket_reply(uint64_t ts, Endpoint local, Endpoint remote, uint8_t seg_flags,
                             const TaskRef& current_task, uint32_t netns = kNetns) {
  Event e;
  e.type = EventType::ResetSent;
  e.ts_ns = ts;
  e.netns = netns;
  e.local = local;
  e.remote = remote;
  e.task = current_task;
  e.reason = RstReason::NoSocket;
  e.seg_flags = seg_flags;
  return e;
}

}  // namespace connreset::testing
