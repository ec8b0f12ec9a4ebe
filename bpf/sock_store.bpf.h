/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What connreset keeps per socket in the kernel (tp_btf, fentry/fexit: BTF socket
 * pointers, whose cookies the helper can make): the recv()/send() phase state of the
 * first task per direction (bpf/sock_calls.bpf.h), the lifecycle facts the quiet path
 * puts on the reset records instead of emitting the state changes they come from
 * (bpf/lifecycle.bpf.h) and the owner whose first recv()/send() record it put off
 * (bpf/owner.bpf.h). Kprobe plans key sockets by address and use the calls hash only.
 *
 * A preallocated LRU hash keyed by the socket's cookie, not socket storage (issue 14):
 * creating socket storage costs two memcg-charged allocations and an RCU free per
 * socket - half of connreset's kernel time in a reset storm and in nginx serving a
 * connection per request (perf, 6.18). An entry is taken from a preallocated free list
 * and given back when the kernel destroys the socket (tcp_destroy_sock, the moment
 * socket storage would have been freed); one whose end was not seen (a plan without
 * that probe) is evicted as least recently used. Bounded by --max-tracked: beyond that
 * many live sockets with state, the least recently used lose it (their next records
 * are written as for a socket seen the first time).
 */
#ifndef CONNRESET_SOCK_STORE_BPF_H
#define CONNRESET_SOCK_STORE_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "connreset.h"

struct call_stat {
	__u64 phase_calls;
	__u64 next_report;
	__s32 ret;
	__u32 tgid; /* in sock_store: the task the slot belongs to (0: unused) */
	__u8 phase;
};

/* A task as a record names it, and when: kept for a record written later (quiet path). */
struct task_stamp {
	__u64 ts_ns;
	__u64 cgroup;
	__u32 tgid; /* 0: nothing kept */
	__u32 tid;
	char comm[CR_COMM_LEN];
};

/*
 * The first recv()/send() of a task on the socket, whose record the quiet path put off
 * (bpf/owner.bpf.h): the record it would have been, written only if a reset or another
 * task's record needs the owner. task.tgid 0: none put off.
 */
struct owner_note {
	struct task_stamp task;
	__s32 ret;
	__u8 call;
	__u8 pad[3];
};

/*
 * The owner's FIN (close(), shutdown(SHUT_WR)): the state change it made, kept instead of
 * its record and put on the socket's close record (bpf/owner.bpf.h). task.tgid 0: none kept.
 */
struct fin_note {
	struct task_stamp task;
	__u8 old_state;
	__u8 state;
	__u8 shutdown;
	__u8 exiting;
};

struct sock_store {
	struct call_stat dir[2]; /* by enum cr_call */
	__u64 opened_ns; /* SYN_RECV -> ESTABLISHED or connect(), left out (quiet path): the connection's start */
	__u64 fin_ns;    /* ESTABLISHED -> CLOSE_WAIT, left out (quiet path): the peer's FIN */
	__u32 known_tgid; /* the owner user space last learned from a record (quiet path) */
	struct owner_note owner; /* put off (quiet path) */
	struct fin_note our_fin; /* our FIN (close()/shutdown()), put off (quiet path) */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536); /* resized by the loader (--max-tracked) */
	__type(key, __u64);         /* the socket's cookie */
	__type(value, struct sock_store);
} sock_store SEC(".maps");

static const struct sock_store sock_store_zero;

/* TIME_WAIT and request sockets end after sock_common: never any state of their own */
static __always_inline bool store_fullsock(const struct sock *sk)
{
	const __u8 state = sk->__sk_common.skc_state;

	return state != CR_TCP_TIME_WAIT && state != CR_TCP_NEW_SYN_RECV;
}

/*
 * A socket nobody asked a cookie for has nothing stored (every entry is keyed by a cookie
 * made for it): its first entry can be written whole, with what the caller knows, by one
 * update - no lookup that must miss, no zeroed entry to look up again and fill (issue 14:
 * a connect() and an accepted connection's set-up make most entries, at one hash walk each
 * instead of three). False: sk has a cookie (use store_get).
 */
static __always_inline bool store_first(struct sock *sk)
{
	return store_fullsock(sk) && !sk->__sk_common.skc_cookie.counter;
}

/* After store_first(sk): its entry, written whole. False: not made (a race with another CPU). */
static __always_inline bool store_insert_first(struct sock *sk, const struct sock_store *init)
{
	__u64 cookie = bpf_get_socket_cookie(sk);

	return bpf_map_update_elem(&sock_store, &cookie, init, BPF_NOEXIST) == 0;
}

/* sk's state; create: a zeroed entry when there is none. NULL: none (or none could be made). */
static __always_inline struct sock_store *store_get(struct sock *sk, bool create)
{
	struct sock_store *st;
	__u64 cookie;

	if (!store_fullsock(sk))
		return NULL;
	cookie = sk->__sk_common.skc_cookie.counter;
	if (cookie) {
		st = bpf_map_lookup_elem(&sock_store, &cookie);
		if (st || !create)
			return st;
	} else if (!create) {
		return NULL; /* no cookie yet: nothing was ever stored for it */
	} else {
		cookie = bpf_get_socket_cookie(sk); /* new: the lookup would miss */
	}
	if (bpf_map_update_elem(&sock_store, &cookie, &sock_store_zero, BPF_NOEXIST))
		return NULL;
	return bpf_map_lookup_elem(&sock_store, &cookie);
}

/* The kernel destroys the socket: its state goes. No cookie: nothing was ever stored. */
static __always_inline void store_release(__u64 cookie)
{
	if (cookie)
		bpf_map_delete_elem(&sock_store, &cookie);
}

#endif /* CONNRESET_SOCK_STORE_BPF_H */
