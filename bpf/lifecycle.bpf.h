/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The records of a socket's lifecycle (state changes, close, RSTs) and the quiet path
 * (issue 14): unless every change is wanted (trace --all, quiet_states off), the state
 * changes of healthy connections that tell user space nothing another record does not
 * carry are left out, each counted (CR_CNT_STATES_FOLDED):
 *  - CLOSE -> SYN_SENT (connect()): kept in the socket's storage with its task and time,
 *    written later only when a reset or another task's record needs it (bpf/owner.bpf.h);
 *  - SYN_SENT -> ESTABLISHED: the connect() was already seen (SYN_SENT);
 *  - FIN_WAIT1 -> FIN_WAIT2: our FIN was acknowledged; the FIN (FIN_WAIT1, with the
 *    closing task) and the close (FIN_WAIT2 -> CLOSE) are both kept;
 *  - SYN_RECV -> ESTABLISHED (an accepted connection is set up) and ESTABLISHED ->
 *    CLOSE_WAIT (the peer's FIN): their times go to the socket's storage, and a
 *    RESET_RECEIVED record carries them (opened_ns, fin_ns) - the connection's age and
 *    the FIN before the RST are what the remote-peer evidence uses them for. Kprobe plans
 *    have no socket storage, and key sockets by address: there the accepted connection's
 *    set-up also tells a new socket at a reused address, so both stay records;
 *  - ESTABLISHED -> FIN_WAIT1 and CLOSE_WAIT -> LAST_ACK in the owner's close()/shutdown():
 *    kept in the socket's storage with the task and time, and carried by the socket's close
 *    record (X -> CLOSE, CR_EVD_FIN), or written before any other record that must follow
 *    it (bpf/owner.bpf.h);
 *  - X -> CLOSE right after an RST was received on the socket: tcp_reset() always ends in
 *    tcp_done(), so the RESET_RECEIVED record (state X) already says the socket closed;
 *  - X -> CLOSE that announces an RST: __tcp_close() with unread data sets CLOSE and sends
 *    the RST right after, in the same call on the same CPU; the RESET_SENT record carries
 *    X (old_state) and says the socket closed;
 *  - X -> CLOSE right after an active RST from X: tcp_abort() (SOCK_DESTROY, ss -K), the
 *    keepalive and orphan FIN_WAIT2 timers and tcp_out_of_resources() send the RST, then
 *    tcp_done() sets CLOSE, in the same call on the same CPU; the RESET_SENT record says
 *    so (CR_F_CLOSES) and user space closes the socket there.
 * A reset storm connection is 5 records instead of 7; an orderly close of an accepted
 * connection 2 state records fewer, and its two FINs 2 more. Each record costs the
 * workload's CPU a ring-buffer slot, the task's comm and cgroup and the socket's fields,
 * and user space its decoding.
 */
#ifndef CONNRESET_LIFECYCLE_BPF_H
#define CONNRESET_LIFECYCLE_BPF_H

#include "sock_read.bpf.h"
#include "sock_store.bpf.h"
#include "owner.bpf.h"

/*
 * Per CPU, the socket whose RST was received last (tcp_reset() runs tcp_done() right
 * after the probe, on the same CPU, in the same call), the socket whose close was left
 * out for the RST that follows it, and the socket whose active RST announces its close
 * (tcp_done() right after it). One slot each per CPU, no key per socket: bounded, and
 * nothing to evict. The state and a time bound guard against a stale slot meeting a new
 * socket at a freed one's address.
 */
enum { CR_MARK_RST_RECEIVED = 0, CR_MARK_CLOSE = 1, CR_MARK_RST_SENT = 2, CR_MARKS = 3 };

struct sock_mark {
	__u64 sk;
	__u64 ts_ns;
	__u32 state;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CR_MARKS);
	__type(key, __u32);
	__type(value, struct sock_mark);
} sock_marks SEC(".maps");

#define CR_MARK_WINDOW_NS (100 * 1000 * 1000ULL)

static __always_inline struct sock_mark *mark_slot(__u32 which)
{
	return bpf_map_lookup_elem(&sock_marks, &which);
}

/* Take the mark of sk (any state when state < 0); false when this CPU's slot holds another. */
static __always_inline bool mark_take(__u32 which, const struct sock *sk, int state, __u32 *marked_state)
{
	struct sock_mark *m = mark_slot(which);

	if (!m || m->sk != (__u64)sk || (state >= 0 && m->state != (__u32)state) ||
	    bpf_ktime_get_ns() - m->ts_ns > CR_MARK_WINDOW_NS)
		return false;
	m->sk = 0;
	if (marked_state)
		*marked_state = m->state;
	return true;
}

enum { CR_LIFE_OPENED, CR_LIFE_FIN };

/* The change's time kept in the socket's storage instead of a record; false: no storage. */
static __always_inline bool life_note(const struct sock *sk, bool btf_sk, int what)
{
	struct sock_store *st;

	if (btf_sk && !key_by_pointer && store_first((struct sock *)sk)) {
		/* an accepted connection's set-up, usually: a new socket, its entry written whole */
		struct sock_store init;

		__builtin_memset(&init, 0, sizeof(init));
		if (what == CR_LIFE_OPENED)
			init.opened_ns = bpf_ktime_get_ns();
		else
			init.fin_ns = bpf_ktime_get_ns();
		return store_insert_first((struct sock *)sk, &init);
	}
	st = life_store(sk, btf_sk, true);
	if (!st)
		return false;
	if (what == CR_LIFE_OPENED)
		st->opened_ns = bpf_ktime_get_ns();
	else if (!st->fin_ns)
		st->fin_ns = bpf_ktime_get_ns();
	return true;
}

/*
 * X -> CLOSE inside __tcp_close() with unread data: the RST (TCP_ABORT_ON_CLOSE) follows.
 * close() set sk_shutdown to SHUTDOWN_MASK first and has just dropped the receive queue
 * without reading it: bytes received but not read, and none queued, is that drop. (After
 * shutdown(SHUT_RDWR) the unread bytes are still queued, and a socket closed without
 * unread data has none: both keep their record.)
 */
static __always_inline bool close_announces_rst(const struct sock *sk, int oldstate, bool btf)
{
	const struct tcp_sock *tp;
	__u32 unread;

	if (oldstate == CR_TCP_CLOSE || oldstate == CR_TCP_LISTEN || oldstate == CR_TCP_SYN_SENT)
		return false;
	if ((btf ? BPF_CORE_READ_BITFIELD(sk, sk_shutdown) : BPF_CORE_READ_BITFIELD_PROBED(sk, sk_shutdown)) != 3)
		return false;
	tp = tcp_of(sk, btf);
	if (!tp)
		return false;
	unread = CR_TRD(btf, tp, rcv_nxt) - CR_TRD(btf, tp, copied_seq);
	if (unread && (CR_RD(btf, sk, __sk_common.skc_flags) &
		       sock_flag_bit(bpf_core_enum_value(enum sock_flags, SOCK_DONE))))
		unread--; /* the FIN's sequence number is no data */
	return unread > 0 && CR_RD(btf, sk, sk_receive_queue.qlen) == 0;
}

static __always_inline void mark_close(const struct sock *sk, int oldstate)
{
	struct sock_mark *m = mark_slot(CR_MARK_CLOSE);

	if (!m)
		return;
	if (m->sk) /* the RST announced last time never came: that close went unreported */
		count(CR_CNT_CLOSE_UNMATCHED);
	m->sk = (__u64)sk;
	m->ts_ns = bpf_ktime_get_ns();
	m->state = oldstate;
}

/* True when the change is left out (quiet path); counted. btf_sk: see life_store. */
static __always_inline bool state_folded(const struct sock *sk, int oldstate, int newstate, bool btf_sk)
{
	bool folded = false;

	if (!quiet_states)
		return false;
	if ((oldstate == CR_TCP_SYN_SENT && newstate == CR_TCP_ESTABLISHED) ||
	    (oldstate == CR_TCP_FIN_WAIT1 && newstate == CR_TCP_FIN_WAIT2)) {
		folded = true;
	} else if (oldstate == CR_TCP_CLOSE && newstate == CR_TCP_SYN_SENT) {
		folded = btf_sk && !key_by_pointer && owner_defer_connect((struct sock *)sk);
	} else if (oldstate == CR_TCP_SYN_RECV && newstate == CR_TCP_ESTABLISHED) {
		folded = life_note(sk, btf_sk, CR_LIFE_OPENED);
	} else if (oldstate == CR_TCP_ESTABLISHED && newstate == CR_TCP_CLOSE_WAIT) {
		folded = life_note(sk, btf_sk, CR_LIFE_FIN);
	} else if (newstate == CR_TCP_FIN_WAIT1 || newstate == CR_TCP_LAST_ACK) {
		folded = btf_sk && !key_by_pointer && fin_defer((struct sock *)sk, oldstate, newstate);
	} else if (newstate == CR_TCP_CLOSE) {
		folded = mark_take(CR_MARK_RST_RECEIVED, sk, oldstate, NULL) ||
			 mark_take(CR_MARK_RST_SENT, sk, oldstate, NULL);
		if (!folded && close_announces_rst(sk, oldstate, btf_sk)) {
			mark_close(sk, oldstate);
			folded = true;
		}
	}
	if (folded)
		count(CR_CNT_STATES_FOLDED);
	return folded;
}

/*
 * Every caller of tcp_send_active_reset() on a socket that is not closed yet (tcp_abort, the
 * keepalive and FIN_WAIT2 timers, tcp_out_of_resources, MPTCP subflow resets) calls
 * tcp_done() right after it; __tcp_close and tcp_disconnect set CLOSE before they send.
 */
static __always_inline bool rst_closes_after(__u8 state)
{
	return state != CR_TCP_CLOSE && state != CR_TCP_LISTEN && state != CR_TCP_SYN_SENT &&
	       state != CR_TCP_TIME_WAIT && state != CR_TCP_NEW_SYN_RECV && state != 0;
}

static __always_inline void mark_rst_sent(const struct sock *sk, struct cr_event *e)
{
	struct sock_mark *m = mark_slot(CR_MARK_RST_SENT);

	if (!m)
		return; /* no mark: the close is reported as a state change, and e does not say it */
	m->sk = (__u64)sk;
	m->ts_ns = e->ts_ns;
	m->state = e->state;
	e->flags |= CR_F_CLOSES;
}

/* Everything an RST tells, whichever probe saw it. reason: CR_RST_*. btf_sk: see life_store. */
static __always_inline void emit_reset_sent(const struct sock *sk, const struct sk_buff *skb,
					    __u64 key, __u8 reason, bool btf_sk)
{
	struct cr_event *e;
	__u32 closed_from;

	if (sk && quiet_states)
		owner_before_reset((struct sock *)sk, life_store(sk, btf_sk, false));
	e = event_reserve(CR_EV_RESET_SENT);
	if (!e)
		return;
	fill_task(e);
	e->reason = reason;
	if (!skb)
		e->flags |= CR_F_ACTIVE;
	if (sk)
		fill_sock(e, sk, key, btf_sk);
	if (skb)
		fill_from_segment(e, skb);
	/* the close this RST was announced by, left out: this record says it (old_state) */
	else if (sk && quiet_states && mark_take(CR_MARK_CLOSE, sk, -1, &closed_from))
		e->old_state = closed_from;
	/* an active RST from an open socket: tcp_done() follows, its X -> CLOSE is left out */
	else if (sk && quiet_states && rst_closes_after(e->state))
		mark_rst_sent(sk, e);
	event_submit(e);
}

static __always_inline void mark_reset_received(const struct sock *sk, const struct cr_event *e)
{
	struct sock_mark *m;

	if (!quiet_states)
		return;
	m = mark_slot(CR_MARK_RST_RECEIVED);
	if (!m)
		return;
	m->sk = (__u64)sk;
	m->ts_ns = e->ts_ns;
	m->state = e->state;
}

/* skb: the RST segment where the probe sees it, else NULL (tp_btf, 5.10's tcp_reset(sk)). */
static __always_inline void emit_reset_received(const struct sock *sk, const struct sk_buff *skb,
						__u64 key, bool btf_sk)
{
	struct sock_store *st = quiet_states ? life_store(sk, btf_sk, false) : NULL;
	/* a put-off connect() rides on this record instead of being written before it */
	const bool carry_connect = st && st->owner.task.tgid && st->owner.call == CR_NOTE_CONNECT;
	struct cr_event *e;

	if (!carry_connect)
		owner_before_reset((struct sock *)sk, st);
	e = sock_event(CR_EV_RESET_RECEIVED, sk, key, btf_sk);
	if (!e)
		return; /* no mark: the close that follows is then reported as a state change */
	mark_reset_received(sk, e);
	fill_rst_evidence(e, sk, btf_sk);
	if (skb)
		fill_rst_segment(e, sk, skb);
	if (st) {
		e->opened_ns = st->opened_ns;
		e->fin_ns = st->fin_ns;
	}
	if (carry_connect)
		owner_carry_connect(st, e);
	event_submit(e);
}

/*
 * A state change user space learns the task from as the socket's owner (connect(); the
 * FIN of close()/shutdown() in the owner's own call: see task_owns_socket in
 * src/correlate): the owner's put-off first call goes first, or is not needed any more
 * (bpf/owner.bpf.h). connect() creates the storage, so that the first data call of the
 * same task needs no record at all.
 */
static __always_inline void state_owner(const struct sock *sk, int newstate, bool btf_sk)
{
	bool learned = newstate == CR_TCP_SYN_SENT;

	if (!quiet_states || !btf_sk || key_by_pointer)
		return;
	if ((newstate == CR_TCP_FIN_WAIT1 || newstate == CR_TCP_LAST_ACK) &&
	    (BPF_CORE_READ_BITFIELD(sk, sk_shutdown) & 2) &&
	    !(sk->__sk_common.skc_flags & sock_flag_bit(bpf_core_enum_value(enum sock_flags, SOCK_DEAD))))
		learned = true;
	if (learned)
		owner_learned((struct sock *)sk, life_store(sk, btf_sk, newstate == CR_TCP_SYN_SENT),
			      bpf_get_current_pid_tgid() >> 32);
}

static __always_inline void emit_state(const struct sock *sk, __u64 key, int oldstate, int newstate,
				       bool btf_sk)
{
	struct sock_store *st = quiet_states ? life_store(sk, btf_sk, false) : NULL;
	/* the owner's put-off FIN rides on the close record, or goes before any other */
	const bool carry_fin = st && st->our_fin.task.tgid && newstate == CR_TCP_CLOSE;
	struct cr_event *e;

	if (st && st->our_fin.task.tgid && !carry_fin)
		fin_replay((struct sock *)sk, st);
	state_owner(sk, newstate, btf_sk);
	e = sock_event(CR_EV_STATE, sk, key, btf_sk);
	if (!e)
		return;
	e->old_state = oldstate;
	e->state = newstate;
	if (carry_fin)
		fin_carry(st, e);
	event_submit(e);
}

/* close() entry, in the closing task: the facts before the kernel drains anything */
static __always_inline void emit_close(const struct sock *sk, __u64 key, bool btf_sk)
{
	struct cr_event *e;

	if (quiet_states)
		owner_learned((struct sock *)sk, life_store(sk, btf_sk, false),
			      bpf_get_current_pid_tgid() >> 32);
	e = sock_event(CR_EV_CLOSE, sk, key, btf_sk);

	if (!e)
		return;
	e->shutdown = 3; /* __tcp_close sets SHUTDOWN_MASK first thing */
	event_submit(e);
}

#endif /* CONNRESET_LIFECYCLE_BPF_H */
