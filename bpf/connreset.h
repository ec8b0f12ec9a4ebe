/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The records connreset's BPF programs emit, shared by the kernel side
 * (bpf/connreset.bpf.c) and user space (src/decode). Plain fixed-size C types only:
 * no kernel headers, so both sides compile it, and the layout is the
 * journal's wire format too (bump CR_EVENT_VERSION on any change).
 */
#ifndef CONNRESET_H
#define CONNRESET_H

#define CR_EVENT_VERSION 1
#define CR_COMM_LEN 16

enum cr_event_type {
	CR_EV_RESET_SENT = 1,     /* this host emitted an RST (active or in reply) */
	CR_EV_RESET_RECEIVED = 2, /* a local socket processed an incoming RST */
	CR_EV_STATE = 3,          /* TCP state change of a full socket */
	CR_EV_SOCK_CALL = 4,      /* recv()/send() result phase changed for (socket, task) */
	CR_EV_CLOSE = 5,          /* close()/shutdown() of a socket, seen in the caller's context */
};

/*
 * RST reasons in connreset's own stable numbering (the kernel's enum
 * sk_rst_reason values move between versions; the BPF side maps them with
 * CO-RE). CR_RST_UNAVAILABLE: the kernel has no reasons (< 6.10).
 */
enum cr_rst_reason {
	CR_RST_UNAVAILABLE = 0,
	CR_RST_NOT_SPECIFIED,
	CR_RST_NO_SOCKET,
	CR_RST_TCP_INVALID_ACK_SEQUENCE,
	CR_RST_TCP_RFC7323_PAWS,
	CR_RST_TCP_TOO_OLD_ACK,
	CR_RST_TCP_ACK_UNSENT_DATA,
	CR_RST_TCP_FLAGS,
	CR_RST_TCP_OLD_ACK,
	CR_RST_TCP_ABORT_ON_DATA,
	CR_RST_TCP_TIMEWAIT_SOCKET,
	CR_RST_INVALID_SYN,
	CR_RST_TCP_ABORT_ON_CLOSE,
	CR_RST_TCP_ABORT_ON_LINGER,
	CR_RST_TCP_ABORT_ON_MEMORY,
	CR_RST_TCP_STATE,
	CR_RST_TCP_KEEPALIVE_TIMEOUT,
	CR_RST_TCP_DISCONNECT_WITH_DATA,
	CR_RST_MPTCP,
	CR_RST_ERROR,
	CR_RST_OTHER, /* a value this build does not know */
};

enum cr_call {
	CR_CALL_RECV = 0,
	CR_CALL_SEND = 1,
};

/* What a run of recv()/send() calls returned; EAGAIN/EINTR count as DATA (no progress, no end). */
enum cr_phase {
	CR_PHASE_DATA = 0,
	CR_PHASE_EOF = 1,   /* recv() returned 0 */
	CR_PHASE_ERROR = 2, /* returned -errno (in ret) */
};

/* cr_event.flags */
#define CR_F_ACTIVE   0x01 /* RST from tcp_send_active_reset (no triggering segment) */
#define CR_F_LINGER   0x02 /* SO_LINGER on */
#define CR_F_EXITING  0x04 /* current task has PF_EXITING (killed, crashed, exit()) */
#define CR_F_ORPHAN   0x08 /* SOCK_DEAD: no process holds the socket any more */
#define CR_F_FIN_RCVD 0x10 /* SOCK_DONE: the peer's FIN was received */
#define CR_F_HAS_SK   0x20 /* a socket was involved (not a no-socket reply) */
#define CR_F_TW       0x40 /* the socket was a TIME_WAIT mini socket */

/* cr_event.seg_flags: TCP flags of the segment an RST answered (reply resets) */
#define CR_TCP_FIN 0x01
#define CR_TCP_SYN 0x02
#define CR_TCP_RST 0x04
#define CR_TCP_ACK 0x10

struct cr_event {
	unsigned long long ts_ns;  /* CLOCK_MONOTONIC (bpf_ktime_get_ns) */
	unsigned long long cookie; /* socket cookie, 0 when no socket */
	unsigned long long cgroup; /* cgroup v2 id of current */
	unsigned long long count;  /* SOCK_CALL: calls in the current phase so far */
	unsigned long long bytes;  /* SOCK_CALL: bytes this record's call moved (data phase) */
	unsigned int netns;        /* network namespace inode, 0 if unknown */
	unsigned int pid;          /* current tgid (trust depends on the event; see src/correlate) */
	unsigned int tid;          /* current tid */
	unsigned int unread;       /* bytes received but not read by the application (tcp_inq) */
	unsigned int linger_ms;    /* SO_LINGER time; valid with CR_F_LINGER */
	int ret;                   /* SOCK_CALL: last result (bytes or -errno) */
	unsigned short lport;      /* local port, host order, from the socket's point of view */
	unsigned short rport;      /* remote port, host order */
	unsigned char type;        /* enum cr_event_type */
	unsigned char family;      /* AF_INET (2) or AF_INET6 (10) */
	unsigned char state;       /* TCP state at the event (STATE: new state) */
	unsigned char old_state;   /* STATE: previous state */
	unsigned char reason;      /* RESET_SENT: enum cr_rst_reason */
	unsigned char flags;       /* CR_F_* */
	unsigned char shutdown;    /* sk_shutdown: 1 RCV, 2 SEND, 3 both (close) */
	unsigned char seg_flags;   /* CR_TCP_* of the segment answered */
	unsigned char call;        /* SOCK_CALL: enum cr_call */
	unsigned char phase;       /* SOCK_CALL: enum cr_phase */
	unsigned char probes_out;  /* keepalive/zero-window probes sent without answer */
	unsigned char keepalive;   /* SO_KEEPALIVE on */
	unsigned char pad[4];
	unsigned char laddr[16];   /* IPv4 in the first 4 bytes */
	unsigned char raddr[16];
	char comm[CR_COMM_LEN];
};

/* Per-CPU counters the user side sums; index = enum cr_counter. */
enum cr_counter {
	CR_CNT_EVENTS = 0,        /* records written to the ring buffer */
	CR_CNT_LOST = 1,          /* records dropped: ring buffer full */
	CR_CNT_CALL_TABLE_FULL = 2, /* recv/send aggregation entries that could not be created */
	CR_CNT_MAX = 3,
};

#endif /* CONNRESET_H */
