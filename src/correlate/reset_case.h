#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/names.h"
#include "decode/event.h"

namespace connreset {

// Which call an observation is about (connect() only ever derived from the kernel state).
enum class ObservedCall : uint8_t { Recv, Send, Connect };

// What a task's calls on the reset socket returned, counted. Matched by the
// typed (call, err); the names are for people.
struct Observation {
  TaskRef task;
  ObservedCall call = ObservedCall::Recv;
  int err = 0;         // the errno returned (ECONNRESET, EPIPE, ECONNREFUSED...); 0: recv() returned 0
  uint64_t count = 0;  // at least this many calls returned it
  uint64_t first_ns = 0;
  uint64_t last_ns = 0;
  bool derived = false;  // implied by the kernel state (connect() in SYN_SENT), not a traced call
  bool on_receiver = true;  // on the socket that received the RST (else: the sender's own socket)

  std::string call_name() const {  // "recv", "send", "connect"
    return call == ObservedCall::Recv ? "recv" : call == ObservedCall::Send ? "send" : "connect";
  }
  std::string result() const { return err == 0 ? "EOF" : errno_name(err); }  // "ECONNRESET", "EOF"
};

// How the RST sender's side was closed, if it was.
struct CloseInfo {
  TaskRef task;
  std::string kind;  // "close", "shutdown", "exit", "kernel"
  bool exiting = false;
  uint64_t ts_ns = 0;
};

// One RST, with whatever both ends told us. Built by the Correlator, judged
// by the Explainer. local/remote are from the receiving side's point of view.
struct ResetCase {
  uint64_t ts_ns = 0;
  uint32_t netns = 0;
  Endpoint local;
  Endpoint remote;
  std::optional<Event> sent;      // the RST leaving a local socket / the local stack
  std::optional<Event> received;  // the RST processed by a local socket
  std::optional<TaskRef> sender;    // owner of the sending socket (process context)
  std::optional<TaskRef> receiver;  // owner of the receiving socket
  std::optional<TaskRef> actor;     // task whose syscall made the kernel send it (close, ss -K, ...)
  std::optional<CloseInfo> closer;
  std::vector<Observation> observed;
  bool sender_had_peer_fin = false;  // the sending socket had received the peer's FIN before
  bool sender_had_closed = false;    // the sending side had sent its FIN (close/shutdown) before
  uint8_t sender_prev_state = 0;     // the sending socket's state before its last change (kernels without reasons)
  // The receiving socket's history, for RSTs from another host (explain/remote.h)
  uint64_t receiver_fin_ns = 0;     // the peer's FIN arrived then (0: not seen before the RST)
  uint64_t receiver_opened_ns = 0;  // the connection was set up then (0: not seen)
};

// An application bug seen in what a task's calls returned (not an RST cause).
struct Finding {
  // "recv_loop_after_end": calls after recv() returned 0; "ignored_reset": calls after an
  // error that ended the connection (ECONNRESET, EPIPE, ETIMEDOUT, ... - named in `after`)
  std::string kind;
  TaskRef task;
  uint32_t netns = 0;
  Endpoint local;
  Endpoint remote;
  std::string call;          // "recv", "send"
  std::string result;        // what the calls keep returning: "EOF", "EPIPE", ...
  std::string after;         // the end that was ignored: "EOF", "ECONNRESET", "EPIPE"
  uint64_t count = 0;        // calls after the end (at least)
  uint64_t first_ns = 0;     // when the end was first returned
  uint64_t last_ns = 0;
  bool final = false;        // the socket is gone: the count will not grow any more
  std::string advice;        // what to change: set by the explainer (explain(Finding))
  double rate_per_s() const {
    return last_ns > first_ns ? static_cast<double>(count) * 1e9 / static_cast<double>(last_ns - first_ns) : 0.0;
  }
};

// Every lifecycle step, for `trace --all`.
struct LifecycleEvent {
  Event event;
  std::optional<TaskRef> owner;
};

}  // namespace connreset
