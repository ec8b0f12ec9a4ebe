// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * connreset's kernel side. Each logical probe (see src/probes/attach_plan.cpp)
 * has one program per probe family; the loader switches off, before load,
 * every program the chosen attach plan does not use.
 *
 * Family "tracepoint" (tp_btf): the stable tcp:/sock: tracepoints. On 6.10+
 * tcp_send_reset carries the kernel's reason and fires for every RST
 * including no-socket replies, so it alone tells how the kernel got there.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "connreset.h"
#include "sock_read.bpf.h"
#include "sock_calls.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define CR_IPPROTO_TCP 6
#define CR_TCP_LISTEN 10

/* ---- active reset / reply reset ---------------------------------------- */

SEC("tp_btf/tcp_send_reset")
int BPF_PROG(tp_send_reset, const struct sock *sk, const struct sk_buff *skb, int reason)
{
	struct cr_event *e = event_reserve(CR_EV_RESET_SENT);

	if (!e)
		return 0;
	fill_task(e);
	e->reason = map_rst_reason(reason);
	if (!skb)
		e->flags |= CR_F_ACTIVE;
	if (sk) {
		fill_sock_common(e, sk);
		e->cookie = bpf_get_socket_cookie((void *)sk);
		fill_sock_full(e, sk);
	}
	if (skb)
		fill_from_segment(e, skb);
	event_submit(e, true);
	return 0;
}

/* ---- RST received --------------------------------------------------------- */

SEC("tp_btf/tcp_receive_reset")
int BPF_PROG(tp_receive_reset, struct sock *sk)
{
	struct cr_event *e = event_reserve(CR_EV_RESET_RECEIVED);

	if (!e)
		return 0;
	fill_task(e); /* softirq context: current is often the *sender* on loopback */
	fill_sock_common(e, sk);
	e->cookie = bpf_get_socket_cookie(sk);
	fill_sock_full(e, sk);
	event_submit(e, true);
	return 0;
}

/* ---- state changes: connect, FIN sent (close/shutdown), FIN received, end ---- */

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(tp_set_state, const struct sock *sk, int oldstate, int newstate)
{
	struct cr_event *e;

	if (sk->sk_protocol != CR_IPPROTO_TCP)
		return 0;
	if (newstate == CR_TCP_LISTEN || oldstate == CR_TCP_LISTEN)
		return 0; /* listeners carry no connection */
	if (port_filtered_out(sk))
		return 0;
	e = event_reserve(CR_EV_STATE);
	if (!e)
		return 0;
	fill_task(e);
	fill_sock_common(e, sk);
	e->cookie = bpf_get_socket_cookie((void *)sk);
	fill_sock_full(e, sk);
	e->old_state = oldstate;
	e->state = newstate;
	event_submit(e, false);
	return 0;
}

/* ---- recv()/send() results (6.3+) --------------------------------------- */

static __always_inline int on_sock_call(struct sock *sk, int ret, __u8 call)
{
	if (sk->sk_protocol != CR_IPPROTO_TCP)
		return 0;
	if (port_filtered_out(sk))
		return 0;
	record_call(sk, bpf_get_socket_cookie(sk), call, ret);
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
