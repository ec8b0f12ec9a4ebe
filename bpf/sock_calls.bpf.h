/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * recv()/send() results, aggregated per (socket, task, direction) in the
 * kernel. This runs on every recv() and send() of every process. The common
 * call, more data for a known reader or writer, stops at a per-CPU cache;
 * the rest update the state kept per socket (tp_btf, fentry: bpf/sock_store.bpf.h)
 * or an LRU hash per (socket, task, direction) (kprobes). A ring-buffer record is written only when the result
 * *phase* changes (first call, first EOF, each new errno) or an after-the-end
 * loop crosses a reporting threshold (64, 128, 256, ...).
 */
#ifndef CONNRESET_SOCK_CALLS_BPF_H
#define CONNRESET_SOCK_CALLS_BPF_H

#include "sock_read.bpf.h"
#include "sock_store.bpf.h"
#include "owner.bpf.h"

#define CR_EAGAIN 11
#define CR_EINTR 4

struct call_key {
	__u64 cookie;
	__u32 tgid;
	__u32 call;
};

/* Every (socket, task, direction) the fast path below does not hold. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536); /* resized by the loader (--max-tracked) */
	__type(key, struct call_key);
	__type(value, struct call_stat);
} calls SEC(".maps");

/*
 * The fast path for probes with a BTF socket pointer (tp_btf, fentry/fexit): the
 * state kept per socket (bpf/sock_store.bpf.h), one slot per direction for the first
 * task that uses it. Other tasks on the same socket (fork, fd passing) fall back to
 * the hash per (socket, task, direction).
 */

static __always_inline __u8 call_phase(int ret)
{
	if (ret > 0 || ret == -CR_EAGAIN || ret == -CR_EINTR)
		return CR_PHASE_DATA;
	return ret == 0 ? CR_PHASE_EOF : CR_PHASE_ERROR;
}

static __always_inline void emit_call(struct sock *sk, __u64 cookie, __u8 call, int ret,
				      const struct call_stat *st, bool btf)
{
	struct cr_event *e = event_reserve(CR_EV_SOCK_CALL);

	if (!e)
		return;
	fill_task(e);
	fill_sock_common(e, sk, btf);
	e->cookie = cookie;
	e->call = call;
	e->ret = ret;
	e->phase = st->phase;
	e->count = st->phase_calls;
	e->bytes = ret > 0 ? ret : 0;
	event_submit(e);
}

static __always_inline __u8 call_phase_of(__u8 call, int ret)
{
	__u8 phase = call_phase(ret);

	/* send() never returns 0 at the end; a 0-byte send is just no progress */
	if (call == CR_CALL_SEND && phase == CR_PHASE_EOF)
		phase = CR_PHASE_DATA;
	return phase;
}

static __always_inline void call_stat_start(struct call_stat *st, __u32 tgid, int ret, __u8 phase)
{
	st->phase_calls = 1;
	st->next_report = loop_report_first;
	st->ret = ret;
	st->tgid = tgid;
	st->phase = phase;
}

/*
 * One more call on a known (socket, task, direction): true when it is worth a
 * record (the phase changed, or a run after the end crossed a threshold).
 */
static __always_inline bool call_stat_update(struct call_stat *st, int ret, __u8 phase)
{
	if (phase == st->phase && (phase != CR_PHASE_ERROR || ret == st->ret)) {
		__u64 n = ++st->phase_calls;

		if (phase == CR_PHASE_DATA || n < st->next_report)
			return false;
		st->next_report = n * 2;
		return true;
	}
	st->phase = phase;
	st->ret = ret;
	st->phase_calls = 1;
	st->next_report = loop_report_first;
	return true;
}

/*
 * The hash path: kprobes (no BTF pointer), and tasks beyond a socket's first (sc: the
 * socket's storage, whose put-off owner goes first; NULL on kprobe plans).
 */
static __always_inline void record_call_hashed(struct sock *sk, __u64 key, __u32 tgid, __u8 call,
					       int ret, __u8 phase, struct sock_store *sc, bool btf)
{
	struct call_key k = { .cookie = key, .tgid = tgid, .call = call };
	struct call_stat *st = bpf_map_lookup_elem(&calls, &k);

	if (!st) {
		struct call_stat init;

		call_stat_start(&init, tgid, ret, phase);
		if (bpf_map_update_elem(&calls, &k, &init, BPF_NOEXIST))
			count(CR_CNT_CALL_TABLE_FULL);
		owner_learned(sk, sc, tgid);
		emit_call(sk, key, call, ret, &init, btf);
		return;
	}
	if (call_stat_update(st, ret, phase)) {
		owner_learned(sk, sc, tgid);
		emit_call(sk, key, call, ret, st, btf);
	}
}

/* kprobes: key is the socket address (cookies are unreadable there) */
static __always_inline void record_call(struct sock *sk, __u64 key, __u8 call, int ret)
{
	record_call_hashed(sk, key, bpf_get_current_pid_tgid() >> 32, call, ret,
			   call_phase_of(call, ret), NULL, false);
}

/*
 * In front of the socket storage: per CPU, a direct-mapped table of the
 * (socket, task, direction)s last seen exchanging data, so that the common
 * call -- more data for a known reader or writer -- costs an array index and
 * two compares instead of a storage lookup. Entries are keyed by the socket
 * cookie, read straight from the socket (no helper): unique per boot, so a
 * new socket at a freed one's address cannot hit. A socket nobody asked a
 * cookie for yet reads 0 and never hits. Only calls returning data may hit;
 * anything else takes the full path.
 */
#define CR_DATA_CACHE_SLOTS 1024

struct data_cache_entry {
	__u64 cookie;
	__u32 tgid[2]; /* by enum cr_call; 0: none */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CR_DATA_CACHE_SLOTS);
	__type(key, __u32);
	__type(value, struct data_cache_entry);
} data_cache SEC(".maps");

static __always_inline struct data_cache_entry *data_cache_slot(__u64 cookie)
{
	/* Fibonacci hashing: the top 10 bits of the product */
	__u32 idx = (cookie * 0x9E3779B97F4A7C15ULL) >> 54;

	return bpf_map_lookup_elem(&data_cache, &idx);
}

/* tp_btf and fentry/fexit: sk is a BTF pointer, whose cookie keys the state kept per socket */
static __always_inline void record_call_tracing(struct sock *sk, __u8 call, int ret)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct data_cache_entry *dc;
	struct sock_store *sc;
	struct call_stat *st;
	__u8 phase;

	call &= 1;
	if (ret > 0) {
		__u64 cookie = sk->__sk_common.skc_cookie.counter;

		dc = data_cache_slot(cookie);
		if (dc && cookie && dc->cookie == cookie && dc->tgid[call] == tgid)
			return;
	}
	phase = call_phase_of(call, ret); /* not needed on the cache hit above */
	sc = store_get(sk, true);
	if (!sc) {
		record_call_hashed(sk, sock_key_tracing(sk), tgid, call, ret, phase, NULL, true);
		return;
	}
	st = &sc->dir[call];
	if (st->tgid == 0) {
		call_stat_start(st, tgid, ret, phase);
		/* quiet path: the owner's first data call is kept, not written (bpf/owner.bpf.h) */
		if (phase == CR_PHASE_DATA && owner_defer(sc, call, ret, tgid))
			return;
		owner_learned(sk, sc, tgid);
		emit_call(sk, sock_key_tracing(sk), call, ret, st, true);
		return;
	}
	if (st->tgid != tgid) {
		record_call_hashed(sk, sock_key_tracing(sk), tgid, call, ret, phase, sc, true);
		return;
	}
	if (call_stat_update(st, ret, phase)) {
		owner_learned(sk, sc, tgid);
		emit_call(sk, sock_key_tracing(sk), call, ret, st, true);
	} else if (ret > 0) {
		/* a known reader or writer in the data phase: let the next such call stop at the cache */
		__u64 cookie = bpf_get_socket_cookie(sk);

		dc = data_cache_slot(cookie);
		if (!dc)
			return;
		if (dc->cookie != cookie) {
			dc->cookie = cookie;
			dc->tgid[0] = dc->tgid[1] = 0;
		}
		dc->tgid[call] = tgid;
	}
}

#endif /* CONNRESET_SOCK_CALLS_BPF_H */
