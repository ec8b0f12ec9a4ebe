// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * connreset's kernel side. Each logical probe (see src/probes/attach_plan.cpp)
 * has one program per probe family; the loader switches off, before load,
 * every program the chosen attach plan does not use.
 *
 * Family "tracepoint" (tp_btf): the stable tcp:/sock: tracepoints. On 6.10+
 * tcp_send_reset carries the kernel's reason and fires for every RST
 * including no-socket replies, so it alone tells how the kernel got there.
 * Family "fentry": fentry/fexit on tcp_send_active_reset, tcp_v4/v6_send_reset,
 * tcp_reset, tcp_set_state, __tcp_close, tcp_recvmsg, tcp_sendmsg.
 * Family "kprobe": the same functions through kprobes/kretprobes.
 * A plan may mix families (e.g. 6.1: tracepoints where they suffice, fentry
 * for the RSTs and recv results).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "connreset.h"
#include "sock_read.bpf.h"
#include "lifecycle.bpf.h"
#include "sock_calls.bpf.h"
#include "process_tree.bpf.h" /* connreset run only */

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define CR_IPPROTO_TCP 6

static __always_inline bool state_change_wanted(const struct sock *sk, int oldstate, int newstate)
{
	/* listeners carry no connection */
	return newstate != CR_TCP_LISTEN && oldstate != CR_TCP_LISTEN && !port_filtered_out(sk);
}

/* ==== family "tracepoint": tp_btf ========================================== */

SEC("tp_btf/tcp_send_reset")
int BPF_PROG(tp_send_reset, const struct sock *sk, const struct sk_buff *skb, int reason)
{
	emit_reset_sent(sk, skb, sk ? sock_key_tracing((struct sock *)sk) : 0, map_rst_reason(reason), true);
	return 0;
}

/* the tracepoint passes the socket only: the RST's own flags stay unknown here */
SEC("tp_btf/tcp_receive_reset")
int BPF_PROG(tp_receive_reset, struct sock *sk)
{
	emit_reset_received(sk, NULL, sock_key_tracing(sk), true);
	return 0;
}

/*
 * oldstate == newstate: close() in FIN_WAIT2 re-sets FIN_WAIT2 (tcp_close_state), no change;
 * the fentry and kprobe programs skip it too
 */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(tp_set_state, const struct sock *sk, int oldstate, int newstate)
{
	if (oldstate == newstate || sk->sk_protocol != CR_IPPROTO_TCP || !state_change_wanted(sk, oldstate, newstate) ||
	    state_folded(sk, oldstate, newstate, true))
		return 0;
	emit_state(sk, sock_key_tracing((struct sock *)sk), oldstate, newstate, true);
	return 0;
}

/* the socket's end: its kept state goes (bpf/sock_store.bpf.h) */
SEC("tp_btf/tcp_destroy_sock")
int BPF_PROG(tp_destroy_sock, struct sock *sk)
{
	store_release(sk->__sk_common.skc_cookie.counter);
	return 0;
}

static __always_inline int on_sock_call(struct sock *sk, int ret, __u8 call)
{
	if (sk->sk_protocol != CR_IPPROTO_TCP)
		return 0;
	if (port_filtered_out(sk))
		return 0;
	record_call_tracing(sk, call, ret);
	return 0;
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(tp_recv_length, struct sock *sk, int ret, int flags)
{
	return on_sock_call(sk, ret, CR_CALL_RECV);
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(tp_send_length, struct sock *sk, int ret, int flags)
{
	return on_sock_call(sk, ret, CR_CALL_SEND);
}

/*
 * ==== family "fentry": fentry/fexit on the TCP functions =====================
 * Only the leading arguments that every version shares are read: BTF
 * prototypes differ between versions *and builds* (Debian's 6.12 BTF gives
 * tcp_send_active_reset as (sk, reason), its source has (sk, priority,
 * reason)), so the RST reason is not read here; the explainer derives the
 * cause from the socket state captured with the RST.
 */

SEC("fentry/tcp_send_active_reset")
int BPF_PROG(fe_send_active_reset, struct sock *sk)
{
	emit_reset_sent(sk, NULL, sock_key_tracing(sk), CR_RST_UNAVAILABLE, true);
	return 0;
}

SEC("fentry/tcp_v4_send_reset")
int BPF_PROG(fe_v4_send_reset, const struct sock *sk, struct sk_buff *skb)
{
	emit_reset_sent(sk, skb, sk ? sock_key_tracing((struct sock *)sk) : 0, CR_RST_UNAVAILABLE, true);
	return 0;
}

SEC("fentry/tcp_v6_send_reset")
int BPF_PROG(fe_v6_send_reset, const struct sock *sk, struct sk_buff *skb)
{
	emit_reset_sent(sk, skb, sk ? sock_key_tracing((struct sock *)sk) : 0, CR_RST_UNAVAILABLE, true);
	return 0;
}

/* 5.15+: tcp_reset(sk, skb), the RST segment included */
SEC("fentry/tcp_reset")
int BPF_PROG(fe_reset_skb, struct sock *sk, struct sk_buff *skb)
{
	emit_reset_received(sk, skb, sock_key_tracing(sk), true);
	return 0;
}

/* 5.10: tcp_reset(sk) */
SEC("fentry/tcp_reset")
int BPF_PROG(fe_reset, struct sock *sk)
{
	emit_reset_received(sk, NULL, sock_key_tracing(sk), true);
	return 0;
}

SEC("fentry/tcp_set_state")
int BPF_PROG(fe_set_state, struct sock *sk, int state)
{
	const int old = BPF_CORE_READ(sk, __sk_common.skc_state);

	if (old == state || !state_change_wanted(sk, old, state) || state_folded(sk, old, state, true))
		return 0;
	emit_state(sk, sock_key_tracing(sk), old, state, true);
	return 0;
}

SEC("fentry/__tcp_close")
int BPF_PROG(fe_tcp_close, struct sock *sk)
{
	if (!port_filtered_out(sk))
		emit_close(sk, sock_key_tracing(sk), true);
	return 0;
}

/* tcp_v6_destroy_sock() calls it too */
SEC("fentry/tcp_v4_destroy_sock")
int BPF_PROG(fe_destroy_sock, struct sock *sk)
{
	store_release(sk->__sk_common.skc_cookie.counter);
	return 0;
}

/* 6.1+: tcp_recvmsg(sk, msg, len, flags, addr_len) */
SEC("fexit/tcp_recvmsg")
int BPF_PROG(fx_recvmsg, struct sock *sk, void *msg, size_t len, int flags, int *addr_len, int ret)
{
	if (!port_filtered_out(sk))
		record_call_tracing(sk, CR_CALL_RECV, ret);
	return 0;
}

/* 5.15: tcp_recvmsg(sk, msg, len, nonblock, flags, addr_len) */
SEC("fexit/tcp_recvmsg")
int BPF_PROG(fx_recvmsg_nb, struct sock *sk, void *msg, size_t len, int nonblock, int flags,
	     int *addr_len, int ret)
{
	if (!port_filtered_out(sk))
		record_call_tracing(sk, CR_CALL_RECV, ret);
	return 0;
}

SEC("fexit/tcp_sendmsg")
int BPF_PROG(fx_sendmsg, struct sock *sk, void *msg, size_t size, int ret)
{
	if (!port_filtered_out(sk))
		record_call_tracing(sk, CR_CALL_SEND, ret);
	return 0;
}

/* ==== family "kprobe": kprobe/kretprobe (keys: socket addresses) ============== */

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);   /* pid_tgid */
	__type(value, __u64); /* struct sock * of the call in progress */
} call_args SEC(".maps");

SEC("kprobe/tcp_send_active_reset")
int BPF_KPROBE(kp_send_active_reset, struct sock *sk)
{
	emit_reset_sent(sk, NULL, (__u64)sk, CR_RST_UNAVAILABLE, false);
	return 0;
}

SEC("kprobe/tcp_v4_send_reset")
int BPF_KPROBE(kp_v4_send_reset, const struct sock *sk, struct sk_buff *skb)
{
	emit_reset_sent(sk, skb, (__u64)sk, CR_RST_UNAVAILABLE, false);
	return 0;
}

SEC("kprobe/tcp_v6_send_reset")
int BPF_KPROBE(kp_v6_send_reset, const struct sock *sk, struct sk_buff *skb)
{
	emit_reset_sent(sk, skb, (__u64)sk, CR_RST_UNAVAILABLE, false);
	return 0;
}

/* the second argument is read only where tcp_reset has one (5.15+, set by the loader) */
const volatile bool reset_has_skb = false;

SEC("kprobe/tcp_reset")
int BPF_KPROBE(kp_reset, struct sock *sk, struct sk_buff *skb)
{
	emit_reset_received(sk, reset_has_skb ? skb : NULL, (__u64)sk, false);
	return 0;
}

SEC("kprobe/tcp_set_state")
int BPF_KPROBE(kp_set_state, struct sock *sk, int state)
{
	const int old = BPF_CORE_READ(sk, __sk_common.skc_state);

	if (old == state || !state_change_wanted(sk, old, state) || state_folded(sk, old, state, false))
		return 0;
	emit_state(sk, (__u64)sk, old, state, false);
	return 0;
}

SEC("kprobe/__tcp_close")
int BPF_KPROBE(kp_tcp_close, struct sock *sk)
{
	if (!port_filtered_out(sk))
		emit_close(sk, (__u64)sk, false);
	return 0;
}

static __always_inline int remember_sock(struct sock *sk)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u64 ptr = (__u64)sk;

	if (!port_filtered_out(sk))
		bpf_map_update_elem(&call_args, &id, &ptr, BPF_ANY);
	return 0;
}

static __always_inline int finish_call(int ret, __u8 call)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u64 *ptr = bpf_map_lookup_elem(&call_args, &id);
	struct sock *sk;

	if (!ptr)
		return 0;
	sk = (struct sock *)*ptr;
	bpf_map_delete_elem(&call_args, &id);
	record_call(sk, (__u64)sk, call, ret);
	return 0;
}

SEC("kprobe/tcp_recvmsg")
int BPF_KPROBE(kp_recvmsg, struct sock *sk)
{
	return remember_sock(sk);
}

SEC("kretprobe/tcp_recvmsg")
int BPF_KRETPROBE(kr_recvmsg, int ret)
{
	return finish_call(ret, CR_CALL_RECV);
}

SEC("kprobe/tcp_sendmsg")
int BPF_KPROBE(kp_sendmsg, struct sock *sk)
{
	return remember_sock(sk);
}

SEC("kretprobe/tcp_sendmsg")
int BPF_KRETPROBE(kr_sendmsg, int ret)
{
	return finish_call(ret, CR_CALL_SEND);
}
