#pragma once
#include "decode/event.h"

namespace connreset {

// When may an event's task (current when the probe fired) be believed? The
// kernel runs much of TCP in softirq and timer context, where current is
// whichever task happened to be on the CPU: on loopback, the *sender's* task
// processes the receiver's RST. These two rules are the only places that
// decide it; the correlator and the report's timelines both use them.

// Is current the task that made the kernel send this RST? True only for RSTs
// sent synchronously from a syscall: close(), connect(AF_UNSPEC), SOCK_DESTROY
// (ss -K: then current is the killer, not the owner). Never for softirq/timer
// resets. The correlator names this task the reset's `actor`.
bool reset_sent_in_task_context(const Event& sent);

// Is current the socket's owner: a task holding it that acted on it through a
// syscall? recv()/send() results and close()/shutdown() records always; state
// changes made by connect() (SYN_SENT) and by sending our FIN (FIN_WAIT1,
// LAST_ACK, while not yet orphaned); an RST sent by close() itself (unread
// data, SO_LINGER 0). Never a received RST, an answer to a segment, a timer.
bool task_owns_socket(const Event& ev);

}  // namespace connreset
