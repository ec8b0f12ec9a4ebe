/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * recv()/send() results, aggregated per (socket, task, direction) in the
 * kernel. This runs on every recv() and send() of every process: one hash
 * lookup and a compare in the common case, a ring-buffer record only when
 * the result *phase* changes (first call, first EOF, each new errno) or an
 * after-the-end loop crosses a reporting threshold (64, 128, 256, ...).
 */
#ifndef CONNRESET_SOCK_CALLS_BPF_H
#define CONNRESET_SOCK_CALLS_BPF_H

#include "sock_read.bpf.h"

#define CR_EAGAIN 11
#define CR_EINTR 4

struct call_key {
	__u64 cookie;
	__u32 tgid;
	__u32 call;
};

struct call_stat {
	__u64 phase_calls;
	__u64 bytes;
	__u64 next_report;
	__s32 ret;
	__u8 phase;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536); /* resized by the loader (--max-tracked) */
	__type(key, struct call_key);
	__type(value, struct call_stat);
} calls SEC(".maps");

static __always_inline __u8 call_phase(int ret)
{
	if (ret > 0 || ret == -CR_EAGAIN || ret == -CR_EINTR)
		return CR_PHASE_DATA;
	return ret == 0 ? CR_PHASE_EOF : CR_PHASE_ERROR;
}

static __always_inline void emit_call(struct sock *sk, __u64 cookie, __u8 call, int ret,
				      const struct call_stat *st)
{
	struct cr_event *e = event_reserve(CR_EV_SOCK_CALL);

	if (!e)
		return;
	fill_task(e);
	fill_sock_common(e, sk);
	e->cookie = cookie;
	e->call = call;
	e->ret = ret;
	e->phase = st->phase;
	e->count = st->phase_calls;
	e->bytes = st->bytes;
	/* an error or end is worth a prompt wake-up; a first data call is not */
	event_submit(e, st->phase == CR_PHASE_ERROR && st->phase_calls == 1);
}

/* cookie: the socket cookie, already obtained the cheapest way the probe family allows */
static __always_inline void record_call(struct sock *sk, __u64 cookie, __u8 call, int ret)
{
	struct call_key key = {
		.cookie = cookie,
		.tgid = bpf_get_current_pid_tgid() >> 32,
		.call = call,
	};
	__u8 phase = call_phase(ret);
	struct call_stat *st;

	/* send() never returns 0 at the end; a 0-byte send is just no progress */
	if (call == CR_CALL_SEND && phase == CR_PHASE_EOF)
		phase = CR_PHASE_DATA;

	st = bpf_map_lookup_elem(&calls, &key);
	if (!st) {
		struct call_stat init = {
			.phase_calls = 1,
			.bytes = ret > 0 ? ret : 0,
			.next_report = loop_report_first,
			.ret = ret,
			.phase = phase,
		};

		if (bpf_map_update_elem(&calls, &key, &init, BPF_NOEXIST))
			count(CR_CNT_CALL_TABLE_FULL);
		emit_call(sk, cookie, call, ret, &init);
		return;
	}
	if (ret > 0)
		st->bytes += ret; /* racy across threads of one task; a count, not an invariant */
	if (phase == st->phase && (phase != CR_PHASE_ERROR || ret == st->ret)) {
		__u64 n = ++st->phase_calls;

		if (phase == CR_PHASE_DATA || n < st->next_report)
			return;
		st->next_report = n * 2;
		emit_call(sk, cookie, call, ret, st);
		return;
	}
	st->phase = phase;
	st->ret = ret;
	st->phase_calls = 1;
	st->next_report = loop_report_first;
	emit_call(sk, cookie, call, ret, st);
}

#endif /* CONNRESET_SOCK_CALLS_BPF_H */
