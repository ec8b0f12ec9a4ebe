/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Quiet path step 3 (issue 14): the first recv()/send() record of a socket's owner.
 *
 * The first call of a task on a socket (per direction) was a record so that user space
 * learns who owns the socket: the sender or receiver of a later RST, the task to name
 * the pod of. A healthy connection never needs it: nginx serving a request on a new
 * connection wrote four (each end's first recv and first send), nearly half its records.
 * Where sockets have storage (tp_btf, fentry/fexit with cookie keys) and the quiet path
 * is on (not trace --all), the first data call is kept in the socket's storage instead
 * (struct owner_note) and written, with its own time, only when something needs the
 * owner: before a reset record of the socket (sent or received), and before a record
 * of ANOTHER task that user space learns as an owner (a call, a close(), connect()), so
 * that the order of owners it learns stays what it was. A task user space already
 * knows as the owner (its connect(), its close()'s FIN) needs no record at all.
 * What user space sees for any socket with a reset is the same set of records as
 * before, only written later; the correlator handles records out of time order.
 * Kprobe plans have no socket storage: unchanged.
 *
 * connect() is kept the same way (CR_NOTE_CONNECT): its record (CLOSE -> SYN_SENT in the
 * connecting task) only told user space the owner and the connection's start, and a
 * healthy client's own FIN or close() tells the owner again. The start goes to the
 * storage (opened_ns, carried by RESET_RECEIVED); the record is written, as it would have
 * been, before a reset record of the socket or another task's owner record, and not at
 * all when the connecting task's own later record makes it known.
 *
 * The owner's FIN is kept too (struct fin_note): close() or shutdown(SHUT_WR) of a healthy
 * connection wrote a state record (ESTABLISHED -> FIN_WAIT1, CLOSE_WAIT -> LAST_ACK) that
 * told user space who closed and when, and the socket's close (X -> CLOSE) followed from
 * a timer or the peer's segment, always written. Now the close record carries the FIN
 * (CR_EVD_FIN: its task fields are the closing task's) - two records fewer per healthy
 * connection, one at each end. The FIN is written as its own record, with its own time,
 * before anything user space must see after it: a reset record of the socket, another
 * state record, another task's owner record.
 */
#ifndef CONNRESET_OWNER_BPF_H
#define CONNRESET_OWNER_BPF_H

#include "sock_read.bpf.h"
#include "sock_store.bpf.h"

const volatile bool quiet_states = false;

/* owner_note.call of a put-off connect(): not an enum cr_call, never leaves the kernel */
#define CR_NOTE_CONNECT 0xff

/*
 * What is kept for the socket (bpf/sock_store.bpf.h), for programs with a BTF socket
 * pointer (btf_sk, a constant per call site) on plans that key by cookie; kprobe plans
 * have none. NULL also for TIME_WAIT and request sockets.
 */
static __always_inline struct sock_store *life_store(const struct sock *sk, bool btf_sk, bool create)
{
	if (!btf_sk || key_by_pointer)
		return NULL;
	return store_get((struct sock *)sk, create);
}

/* The current task, now. */
static __always_inline void stamp_current(struct task_stamp *s)
{
	const __u64 id = bpf_get_current_pid_tgid();

	s->ts_ns = bpf_ktime_get_ns();
	s->tgid = id >> 32;
	s->tid = (__u32)id;
	s->cgroup = bpf_get_current_cgroup_id();
	bpf_get_current_comm(s->comm, sizeof(s->comm));
}

/* The record's task fields say the stamped task's, not the current task's. */
static __always_inline void stamp_put(struct cr_event *e, const struct task_stamp *s)
{
	e->pid = s->tgid;
	e->tid = s->tid;
	e->cgroup = s->cgroup;
	__builtin_memcpy(e->comm, s->comm, sizeof(e->comm));
}

/* Write the owner's put-off first call, as it would have been written then. */
static __always_inline void owner_replay(struct sock *sk, struct sock_store *st)
{
	struct owner_note *o = &st->owner;
	const bool connect = o->call == CR_NOTE_CONNECT;
	struct cr_event *e = event_reserve(connect ? CR_EV_STATE : CR_EV_SOCK_CALL);

	if (e) {
		e->ts_ns = o->task.ts_ns;
		stamp_put(e, &o->task);
		fill_sock_common(e, sk, true);
		e->cookie = sock_key_tracing(sk);
		if (connect) { /* the CLOSE -> SYN_SENT record of the connecting task */
			e->old_state = CR_TCP_CLOSE;
			e->state = CR_TCP_SYN_SENT;
		} else {
			e->call = o->call;
			e->ret = o->ret;
			e->phase = CR_PHASE_DATA;
			e->count = 1;
			e->bytes = o->ret > 0 ? o->ret : 0;
		}
		event_submit(e);
	}
	st->known_tgid = o->task.tgid;
	o->task.tgid = 0;
}

/* The record's task fields (and exiting flag) say the closing task's, as its FIN found it. */
static __always_inline void fin_task(struct cr_event *e, const struct fin_note *f)
{
	stamp_put(e, &f->task);
	e->flags &= ~CR_F_EXITING;
	if (f->exiting)
		e->flags |= CR_F_EXITING;
}

/* Write the owner's put-off FIN as the state record it would have been. */
static __always_inline void fin_replay(struct sock *sk, struct sock_store *st)
{
	struct fin_note *f = &st->our_fin;
	struct cr_event *e = event_reserve(CR_EV_STATE);

	if (e) {
		e->ts_ns = f->task.ts_ns;
		fill_sock_common(e, sk, true);
		e->cookie = sock_key_tracing(sk);
		e->old_state = f->old_state;
		e->state = f->state;
		e->shutdown = f->shutdown;
		fin_task(e, f);
		event_submit(e);
	}
	f->task.tgid = 0;
}

/* The close record (X -> CLOSE) of a socket whose FIN is kept: it carries the FIN. */
static __always_inline void fin_carry(struct sock_store *st, struct cr_event *e)
{
	struct fin_note *f = &st->our_fin;

	fin_task(e, f);
	e->evidence |= CR_EVD_FIN;
	e->fin_sent_ns = f->task.ts_ns;
	e->fin_old_state = f->old_state;
	e->fin_state = f->state;
	e->fin_shutdown = f->shutdown;
	f->task.tgid = 0;
}

/*
 * A record that teaches user space tgid as the socket's owner is about to be reserved:
 * a put-off first call of another task goes first (the owners' order), one of the
 * same task is no longer needed; another task's put-off FIN goes first too.
 */
static __always_inline void owner_learned(struct sock *sk, struct sock_store *st, __u32 tgid)
{
	if (!quiet_states || !st)
		return;
	if (st->owner.task.tgid && st->owner.task.tgid != tgid)
		owner_replay(sk, st);
	if (st->our_fin.task.tgid && st->our_fin.task.tgid != tgid)
		fin_replay(sk, st);
	st->owner.task.tgid = 0;
	st->known_tgid = tgid;
}

/*
 * RESET_RECEIVED runs in whoever delivered the RST (loopback: the sender's task), so its
 * task fields said nothing about the receiver: a put-off connect() goes there instead of
 * into a record of its own (CR_EVD_CONNECT; opened_ns is its time). A reset connection
 * whose client never wrote another owner record is one record fewer (a reset storm: 3).
 */
static __always_inline void owner_carry_connect(struct sock_store *st, struct cr_event *e)
{
	struct owner_note *o = &st->owner;

	stamp_put(e, &o->task);
	e->flags &= ~CR_F_EXITING; /* that was the delivering task's */
	e->evidence |= CR_EVD_CONNECT;
	st->known_tgid = o->task.tgid;
	o->task.tgid = 0;
}

/* Before a reset record of the socket: its owner and its FIN must be known by then. */
static __always_inline void owner_before_reset(struct sock *sk, struct sock_store *st)
{
	if (!quiet_states || !st)
		return;
	if (st->owner.task.tgid)
		owner_replay(sk, st);
	if (st->our_fin.task.tgid)
		fin_replay(sk, st);
}

/* The current task's call, kept as the record it would have been. */
static __always_inline void owner_note_fill(struct owner_note *o, __u8 call, int ret)
{
	stamp_current(&o->task);
	o->call = call;
	o->ret = ret;
}

/*
 * The first data call of tgid in one direction: true when its record is not needed now
 * (user space knows the owner already, or the call is kept in the storage); false: write
 * it (after owner_learned), because another task's call is kept already.
 */
static __always_inline bool owner_defer(struct sock_store *st, __u8 call, int ret, __u32 tgid)
{
	struct owner_note *o = &st->owner;

	if (!quiet_states)
		return false;
	if (st->known_tgid == tgid || o->task.tgid == tgid)
		return true;
	if (o->task.tgid)
		return false;
	owner_note_fill(o, call, ret);
	return true;
}

/*
 * CLOSE -> SYN_SENT in the connecting task: true when its record is put off (kept in the
 * storage, created here). Only on a socket's first connect(): storage that knows anything
 * already (a connect() again after a failed one) keeps the record, which tells user space
 * that a new connection starts on the socket.
 */
static __always_inline bool owner_defer_connect(struct sock *sk)
{
	struct sock_store *st;

	if (store_first(sk)) { /* the usual connect(): a new socket, its entry written whole */
		struct sock_store init;

		__builtin_memset(&init, 0, sizeof(init));
		owner_note_fill(&init.owner, CR_NOTE_CONNECT, 0);
		init.opened_ns = init.owner.task.ts_ns;
		return store_insert_first(sk, &init);
	}
	st = store_get(sk, true);
	if (!st || st->known_tgid || st->owner.task.tgid || st->opened_ns || st->dir[0].tgid || st->dir[1].tgid)
		return false;
	if (!owner_defer(st, CR_NOTE_CONNECT, 0, bpf_get_current_pid_tgid() >> 32))
		return false;
	st->opened_ns = st->owner.task.ts_ns; /* RESET_RECEIVED carries it: the connection's age */
	return true;
}

/*
 * The owner's FIN (ESTABLISHED -> FIN_WAIT1, CLOSE_WAIT -> LAST_ACK in the task's own
 * close()/shutdown()): true when its record is put off (kept in the storage) for the
 * socket's close record to carry. An orphan's FIN, sent later from a timer or the peer's
 * ACK, keeps its record (no task closed it then); so does a socket without storage.
 */
static __always_inline bool fin_defer(struct sock *sk, int oldstate, int newstate)
{
	const __u8 shut = BPF_CORE_READ_BITFIELD(sk, sk_shutdown);
	struct task_stamp now;
	struct sock_store *st;
	struct fin_note *f;

	if (!(shut & 2) ||
	    (sk->__sk_common.skc_flags & sock_flag_bit(bpf_core_enum_value(enum sock_flags, SOCK_DEAD))))
		return false;
	st = store_get(sk, true);
	if (!st)
		return false;
	stamp_current(&now);
	/* what its record would have taught user space first (owner_learned, state_owner) */
	owner_learned(sk, st, now.tgid);
	f = &st->our_fin;
	f->task = now;
	f->old_state = oldstate;
	f->state = newstate;
	f->shutdown = shut;
	f->exiting = (current_task_flags() & CR_PF_EXITING) != 0;
	return true;
}

#endif /* CONNRESET_OWNER_BPF_H */
