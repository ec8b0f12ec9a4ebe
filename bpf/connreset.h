/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The records connreset's BPF programs emit, shared by the kernel side
 * (bpf/connreset.bpf.c) and user space (src/decode). Plain fixed-size C types only:
 * no kernel headers, so both sides compile it, and the layout is the
 * journal's wire format too: bump CR_EVENT_VERSION on any change of layout, and on any
 * change of meaning an older reader would get wrong without an error (version 3: records
 * carry put-off records, CR_EVD_CONNECT and CR_EVD_FIN, that a reader must expand).
 */
#ifndef CONNRESET_H
#define CONNRESET_H

#define CR_EVENT_VERSION 3
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
 * CO-RE). The ONE list: the BPF mapping (bpf/sock_read.bpf.h), the C++ enum
 * RstReason and its names (src/decode) are generated from it.
 *   X(NAME, CamelName, value, KIND)
 * NAME is the kernel's enumerator without SK_RST_REASON_; KIND K: mapped from
 * the kernel enumerator of that name, L: connreset's own (no such enumerator).
 * The values are the wire format: append, never renumber.
 */
#define CR_RST_REASONS(X)                                          \
	X(UNAVAILABLE, Unavailable, 0, L) /* kernel has none (< 6.10) */ \
	X(NOT_SPECIFIED, NotSpecified, 1, K)                         \
	X(NO_SOCKET, NoSocket, 2, K)                                 \
	X(TCP_INVALID_ACK_SEQUENCE, TcpInvalidAckSequence, 3, K)     \
	X(TCP_RFC7323_PAWS, TcpRfc7323Paws, 4, K)                    \
	X(TCP_TOO_OLD_ACK, TcpTooOldAck, 5, K)                       \
	X(TCP_ACK_UNSENT_DATA, TcpAckUnsentData, 6, K)               \
	X(TCP_FLAGS, TcpFlags, 7, K)                                 \
	X(TCP_OLD_ACK, TcpOldAck, 8, K)                              \
	X(TCP_ABORT_ON_DATA, TcpAbortOnData, 9, K)                   \
	X(TCP_TIMEWAIT_SOCKET, TcpTimewaitSocket, 10, K)             \
	X(INVALID_SYN, InvalidSyn, 11, K)                            \
	X(TCP_ABORT_ON_CLOSE, TcpAbortOnClose, 12, K)                \
	X(TCP_ABORT_ON_LINGER, TcpAbortOnLinger, 13, K)              \
	X(TCP_ABORT_ON_MEMORY, TcpAbortOnMemory, 14, K)              \
	X(TCP_STATE, TcpState, 15, K)                                \
	X(TCP_KEEPALIVE_TIMEOUT, TcpKeepaliveTimeout, 16, K)         \
	X(TCP_DISCONNECT_WITH_DATA, TcpDisconnectWithData, 17, K)    \
	X(MPTCP, Mptcp, 18, L) /* any SK_RST_REASON_MPTCP_RST_* */   \
	X(ERROR, Error, 19, K)                                       \
	X(OTHER, Other, 20, L) /* a value this build does not know */

#define CR_RST_REASON_ENUM(name, camel, value, kind) CR_RST_##name = value,
enum cr_rst_reason { CR_RST_REASONS(CR_RST_REASON_ENUM) };
#undef CR_RST_REASON_ENUM

/*
 * TCP states (include/net/tcp_states.h; stable since 2.6), shared for the
 * same reason: X(NAME, CamelName, value); C: CR_TCP_<NAME>, C++: tcp::k<Camel>.
 */
#define CR_TCP_STATES(X)                          \
	X(ESTABLISHED, Established, 1)            \
	X(SYN_SENT, SynSent, 2)                   \
	X(SYN_RECV, SynRecv, 3)                   \
	X(FIN_WAIT1, FinWait1, 4)                 \
	X(FIN_WAIT2, FinWait2, 5)                 \
	X(TIME_WAIT, TimeWait, 6)                 \
	X(CLOSE, Close, 7)                        \
	X(CLOSE_WAIT, CloseWait, 8)               \
	X(LAST_ACK, LastAck, 9)                   \
	X(LISTEN, Listen, 10)                     \
	X(CLOSING, Closing, 11)                   \
	X(NEW_SYN_RECV, NewSynRecv, 12)           \
	X(BOUND_INACTIVE, BoundInactive, 13)

#define CR_TCP_STATE_ENUM(name, camel, value) CR_TCP_##name = value,
enum cr_tcp_state { CR_TCP_STATES(CR_TCP_STATE_ENUM) };
#undef CR_TCP_STATE_ENUM

/*
 * Calls after recv() returned 0 or an error before a repeat report (the kernel
 * then reports at 2x, 4x, ...), and the user side's finding threshold: the same
 * number by default (--loop-threshold sets both).
 */
#define CR_LOOP_THRESHOLD_DEFAULT 64

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
#define CR_F_CLOSES   0x80 /* RESET_SENT: tcp_done() follows this active RST; its X -> CLOSE
                              is left out (quiet path): the socket closes here */

/* cr_event.evidence: which RESET_RECEIVED evidence fields hold values */
#define CR_EVD_SOCK   0x01 /* unacked, srtt_us, retrans, bytes_*: read from the tcp_sock */
#define CR_EVD_TIMES  0x02 /* since_*_ms: the kernel's HZ was known (CONFIG_HZ) */
#define CR_EVD_SEG    0x04 /* the probe saw the RST segment (rst_flags, rst_acked) */
#define CR_EVD_NOT_RST 0x08 /* tcp_reset() ran for a local abort: the segment was data, not an RST */
#define CR_EVD_CONNECT 0x10 /* pid, tid, cgroup, comm: the task that connect()ed the socket at
                               opened_ns, whose CLOSE -> SYN_SENT record was left out (quiet path) */
/* cr_event.evidence of a STATE record (X -> CLOSE) */
#define CR_EVD_FIN    0x20 /* pid, tid, cgroup, comm, CR_F_EXITING: the task whose close() or
                              shutdown() sent our FIN at fin_sent_ns (fin_old_state -> fin_state,
                              sk_shutdown fin_shutdown), whose record was left out (quiet path) */

/* cr_event.seg_flags: TCP flags of the segment an RST answered (reply resets) */
#define CR_TCP_FIN 0x01
#define CR_TCP_SYN 0x02
#define CR_TCP_RST 0x04
#define CR_TCP_ACK 0x10

struct cr_event {
	unsigned long long ts_ns;  /* CLOCK_MONOTONIC (bpf_ktime_get_ns) */
	unsigned long long cookie; /* socket cookie, 0 when no socket */
	unsigned long long cgroup; /* cgroup v2 id of current */
	/*
	 * RESET_RECEIVED: lifecycle facts whose state changes the quiet path left out, from
	 * the socket's storage (0: not known; always 0 from earlier builds and with --all,
	 * where the state changes themselves are recorded).
	 */
	union {
		unsigned long long count;     /* SOCK_CALL: calls in the current phase so far */
		unsigned long long opened_ns; /* RESET_RECEIVED: SYN_RECV -> ESTABLISHED (accepted) or connect() */
		unsigned long long fin_sent_ns; /* STATE with CR_EVD_FIN: the owner's FIN (see there) */
	};
	union {
		unsigned long long bytes;  /* SOCK_CALL: bytes this record's call moved (data phase) */
		unsigned long long fin_ns; /* RESET_RECEIVED: the peer's FIN (ESTABLISHED -> CLOSE_WAIT) */
	};
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
	unsigned char old_state;   /* STATE: previous state; RESET_SENT: the state before CLOSE when
	                              that change was left out (quiet path: the RST's own close), else 0 */
	unsigned char reason;      /* RESET_SENT: enum cr_rst_reason */
	unsigned char flags;       /* CR_F_* */
	unsigned char shutdown;    /* sk_shutdown: 1 RCV, 2 SEND, 3 both (close) */
	unsigned char seg_flags;   /* CR_TCP_* of the segment answered */
	unsigned char call;        /* SOCK_CALL: enum cr_call */
	unsigned char phase;       /* SOCK_CALL: enum cr_phase */
	unsigned char probes_out;  /* keepalive/zero-window probes sent without answer */
	unsigned char keepalive;   /* SO_KEEPALIVE on */
	union {
		unsigned char rst_flags;    /* RESET_RECEIVED: TCP flags of the RST itself (with CR_EVD_SEG) */
		unsigned char fin_shutdown; /* STATE with CR_EVD_FIN: sk_shutdown when our FIN was sent */
	};
	unsigned char evidence;      /* RESET_RECEIVED: CR_EVD_*; STATE: CR_EVD_FIN */
	unsigned char fin_old_state; /* STATE with CR_EVD_FIN: the left-out change, e.g. */
	unsigned char fin_state;     /* ESTABLISHED -> FIN_WAIT1 or CLOSE_WAIT -> LAST_ACK */
	unsigned char laddr[16];   /* IPv4 in the first 4 bytes */
	unsigned char raddr[16];
	char comm[CR_COMM_LEN];
	/*
	 * RESET_RECEIVED: what the socket knew when the RST arrived, so that an
	 * RST from another host can be explained from this side alone. Times are
	 * "how long before the RST", from the kernel's per-socket jiffies stamps.
	 */
	unsigned int since_send_ms; /* last data sent (tcp_sock.lsndtime) */
	unsigned int since_recv_ms; /* last data received (icsk_ack.lrcvtime) */
	unsigned int since_ack_ms;  /* last ACK received (tcp_sock.rcv_tstamp) */
	unsigned int unacked;       /* our bytes in flight: snd_nxt - snd_una */
	unsigned int srtt_us;       /* smoothed RTT */
	unsigned int retrans;       /* total_retrans */
	unsigned int rst_acked;     /* RST with ACK: its ack_seq - snd_una */
	unsigned long long bytes_acked;    /* our bytes the peer acknowledged, ever */
	unsigned long long bytes_received; /* bytes the peer sent us, ever */
};

/*
 * The layout is the contract between the BPF programs, the decoder and the
 * journal: every field's offset and size, checked on both sides of it.
 */
#ifdef __cplusplus
#define CR_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#else
#define CR_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif
#define CR_FIELD(field, offset, size)                                             \
	CR_STATIC_ASSERT(__builtin_offsetof(struct cr_event, field) == (offset) &&     \
				 sizeof(((struct cr_event *)0)->field) == (size),          \
			 "struct cr_event." #field " moved: bump CR_EVENT_VERSION")
CR_FIELD(ts_ns, 0, 8);
CR_FIELD(cookie, 8, 8);
CR_FIELD(cgroup, 16, 8);
CR_FIELD(count, 24, 8);
CR_FIELD(opened_ns, 24, 8);
CR_FIELD(bytes, 32, 8);
CR_FIELD(fin_ns, 32, 8);
CR_FIELD(netns, 40, 4);
CR_FIELD(pid, 44, 4);
CR_FIELD(tid, 48, 4);
CR_FIELD(unread, 52, 4);
CR_FIELD(linger_ms, 56, 4);
CR_FIELD(ret, 60, 4);
CR_FIELD(lport, 64, 2);
CR_FIELD(rport, 66, 2);
CR_FIELD(type, 68, 1);
CR_FIELD(family, 69, 1);
CR_FIELD(state, 70, 1);
CR_FIELD(old_state, 71, 1);
CR_FIELD(reason, 72, 1);
CR_FIELD(flags, 73, 1);
CR_FIELD(shutdown, 74, 1);
CR_FIELD(seg_flags, 75, 1);
CR_FIELD(call, 76, 1);
CR_FIELD(phase, 77, 1);
CR_FIELD(probes_out, 78, 1);
CR_FIELD(keepalive, 79, 1);
CR_FIELD(rst_flags, 80, 1);
CR_FIELD(evidence, 81, 1);
CR_FIELD(fin_sent_ns, 24, 8);
CR_FIELD(fin_shutdown, 80, 1);
CR_FIELD(fin_old_state, 82, 1);
CR_FIELD(fin_state, 83, 1);
CR_FIELD(laddr, 84, 16);
CR_FIELD(raddr, 100, 16);
CR_FIELD(comm, 116, CR_COMM_LEN);
CR_FIELD(since_send_ms, 132, 4);
CR_FIELD(since_recv_ms, 136, 4);
CR_FIELD(since_ack_ms, 140, 4);
CR_FIELD(unacked, 144, 4);
CR_FIELD(srtt_us, 148, 4);
CR_FIELD(retrans, 152, 4);
CR_FIELD(rst_acked, 156, 4);
CR_FIELD(bytes_acked, 160, 8);
CR_FIELD(bytes_received, 168, 8);
CR_STATIC_ASSERT(sizeof(struct cr_event) == 176, "struct cr_event changed size: bump CR_EVENT_VERSION");
#undef CR_FIELD

/*
 * Counters the user side sums over the CPUs. The `counters` map holds one
 * 64-byte line per possible CPU: slot cpu * CR_CNT_STRIDE + enum cr_counter.
 */
enum cr_counter {
	CR_CNT_EVENTS = 0,        /* records written to the ring buffer */
	CR_CNT_LOST = 1,          /* records dropped: ring buffer full */
	CR_CNT_CALL_TABLE_FULL = 2, /* recv/send aggregation entries that could not be created */
	CR_CNT_STATES_FOLDED = 3, /* state changes left out: implied by another record (quiet path) */
	CR_CNT_CLOSE_UNMATCHED = 4, /* a close left out for the RST it announces, which did not follow */
	CR_CNT_MAX = 5,
	CR_CNT_STRIDE = 8,        /* u64 slots per CPU: a cache line, no sharing between CPUs */
};

#endif /* CONNRESET_H */
