/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Reading socket and segment facts into a cr_event. Shared by every probe
 * family; all reads go through CO-RE so one object runs on 5.15 .. 6.18.
 */
#ifndef CONNRESET_SOCK_READ_BPF_H
#define CONNRESET_SOCK_READ_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "connreset.h"

#define CR_AF_INET 2
#define CR_AF_INET6 10
#define CR_PF_EXITING 0x00000004 /* include/linux/sched.h, unchanged since 2.6 */

extern unsigned int CONFIG_HZ __kconfig __weak;

/* Options set by the loader before load; the verifier prunes what they switch off. */
const volatile __u16 filter_port = 0;
const volatile __u64 loop_report_first = CR_LOOP_THRESHOLD_DEFAULT;
const volatile __u64 wakeup_bytes = 256 * 1024;
/*
 * kprobes cannot call bpf_get_socket_cookie: when the plan uses any kprobe,
 * every program keys sockets by their address instead, so keys agree.
 */
const volatile bool key_by_pointer = false;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20); /* resized by the loader (--ringbuf-kib) */
} events SEC(".maps");

/*
 * Counters in an mmapable array, not a per-CPU one: user space maps it while
 * it is still privileged and reads it as memory after dropping every
 * capability. A per-CPU array can only be read with bpf(), which Linux 5.10
 * refuses to an unprivileged process while kernel.unprivileged_bpf_disabled is
 * set (Debian's default). Each CPU has its own cache line (see connreset.h).
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, CR_CNT_STRIDE); /* set by the loader: possible CPUs x CR_CNT_STRIDE */
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

static __always_inline void count(__u32 which)
{
	__u32 slot = bpf_get_smp_processor_id() * CR_CNT_STRIDE + which;
	__u64 *v = bpf_map_lookup_elem(&counters, &slot);

	if (v) /* this CPU's line: uncontended; atomic against a program nested on the same CPU */
		__sync_fetch_and_add(v, 1);
}

/* Ring-buffer slots are not zeroed; zero them so no kernel memory leaks into records. */
static __always_inline struct cr_event *event_reserve(__u8 type)
{
	struct cr_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		count(CR_CNT_LOST);
		return NULL;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->type = type;
	e->ts_ns = bpf_ktime_get_ns();
	return e;
}

/*
 * Records are batched: the reader polls on a timer (100 ms) and is woken
 * early only when the ring is filling up. Even resets are not worth a forced
 * wake-up: they are reported after a settle window far longer than the poll
 * interval, and each forced wake-up is an IPI (a VM exit on virtual
 * machines: 6-9 us per RST measured on the development VM).
 */
static __always_inline void event_submit(struct cr_event *e)
{
	__u64 flags = BPF_RB_NO_WAKEUP;

	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes)
		flags = BPF_RB_FORCE_WAKEUP;
	count(CR_CNT_EVENTS);
	bpf_ringbuf_submit(e, flags);
}

/*
 * The current task's flags: a plain load through the BTF task pointer where the kernel has
 * that helper (5.11+; the check is a CO-RE relocation, so 5.10 never sees the call), else a
 * bpf_probe_read_kernel.
 */
static __always_inline unsigned int current_task_flags(void)
{
	if (bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_get_current_task_btf))
		return bpf_get_current_task_btf()->flags;
	return BPF_CORE_READ((struct task_struct *)bpf_get_current_task(), flags);
}

static __always_inline void fill_task(struct cr_event *e)
{
	__u64 id = bpf_get_current_pid_tgid();

	e->pid = id >> 32;
	e->tid = (__u32)id;
	e->cgroup = bpf_get_current_cgroup_id();
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	if (current_task_flags() & CR_PF_EXITING)
		e->flags |= CR_F_EXITING;
}

static __always_inline __u64 sock_flag_bit(int flag)
{
	return 1ULL << flag;
}

/*
 * A field of a kernel object. btf: the program holds a BTF pointer (tp_btf, fentry/fexit) and
 * the field lies inside the pointer's own type: a plain load, which the verifier checks and
 * the JIT emits as one instruction. Else (kprobes: the pointer is a number) a CO-RE
 * bpf_probe_read_kernel, a helper call each. btf is a constant at every call site, so each
 * program keeps only one of the two.
 */
#define CR_RD(btf, obj, field) ((btf) ? (obj)->field : BPF_CORE_READ(obj, field))

/*
 * The socket as a tcp_sock, for the fields beyond struct sock. btf: a BTF pointer the
 * verifier lets the program load through (bpf_skc_to_tcp_sock, NULL unless a full TCP
 * socket), so that CR_TRD is a plain load; a reset record read ~20 fields through
 * bpf_probe_read_kernel, a helper call each (issue 14). Else (kprobes) the same address,
 * read by helper.
 */
static __always_inline const struct tcp_sock *tcp_of(const struct sock *sk, bool btf)
{
	if (btf)
		return (const struct tcp_sock *)bpf_skc_to_tcp_sock((void *)sk);
	return (const struct tcp_sock *)sk;
}

#define CR_TRD(btf, tp, field) ((btf) ? (tp)->field : BPF_CORE_READ(tp, field))

/*
 * Tuple, state and netns: valid for full, request and TIME_WAIT sockets (all
 * start with sock_common). The local port of a full socket comes from
 * inet_sport: __tcp_close sets CLOSE (which unhashes and zeroes skc_num)
 * before it sends the RST.
 */
static __always_inline void fill_sock_common(struct cr_event *e, const struct sock *sk, bool btf)
{
	e->flags |= CR_F_HAS_SK;
	e->family = CR_RD(btf, sk, __sk_common.skc_family);
	e->state = CR_RD(btf, sk, __sk_common.skc_state);
	e->rport = bpf_ntohs(CR_RD(btf, sk, __sk_common.skc_dport));
	e->netns = btf ? sk->__sk_common.skc_net.net->ns.inum
		       : BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	if (e->state == CR_TCP_TIME_WAIT || e->state == CR_TCP_NEW_SYN_RECV) {
		e->lport = CR_RD(btf, sk, __sk_common.skc_num);
	} else { /* beyond struct sock */
		const struct tcp_sock *tp = tcp_of(sk, btf);

		e->lport = bpf_ntohs(tp ? CR_TRD(btf, tp, inet_conn.icsk_inet.inet_sport)
					: BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
	}
	if (e->family == CR_AF_INET) {
		if (btf) {
			*(__u32 *)e->laddr = sk->__sk_common.skc_rcv_saddr;
			*(__u32 *)e->raddr = sk->__sk_common.skc_daddr;
		} else {
			bpf_core_read(e->laddr, 4, &sk->__sk_common.skc_rcv_saddr);
			bpf_core_read(e->raddr, 4, &sk->__sk_common.skc_daddr);
		}
	} else if (btf) {
		for (int i = 0; i < 4; i++) {
			((__u32 *)e->laddr)[i] = sk->__sk_common.skc_v6_rcv_saddr.in6_u.u6_addr32[i];
			((__u32 *)e->raddr)[i] = sk->__sk_common.skc_v6_daddr.in6_u.u6_addr32[i];
		}
	} else {
		bpf_core_read(e->laddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(e->raddr, 16, &sk->__sk_common.skc_v6_daddr);
	}
	if (e->state == CR_TCP_TIME_WAIT)
		e->flags |= CR_F_TW;
}

/* Close-related facts; only for full sockets (TIME_WAIT/request socks end after sock_common). */
static __always_inline void fill_sock_full(struct cr_event *e, const struct sock *sk, bool btf)
{
	const struct tcp_sock *tp;
	__u64 skflags;
	__u32 unread;

	if (e->state == CR_TCP_TIME_WAIT || e->state == CR_TCP_NEW_SYN_RECV)
		return;
	tp = tcp_of(sk, btf);
	if (!tp)
		return; /* not a full TCP socket */
	skflags = CR_RD(btf, sk, __sk_common.skc_flags);
	unread = CR_TRD(btf, tp, rcv_nxt) - CR_TRD(btf, tp, copied_seq);
	/* as tcp_inq(): the FIN occupies one sequence number but is no data */
	if (unread && (skflags & sock_flag_bit(bpf_core_enum_value(enum sock_flags, SOCK_DONE))))
		unread--;
	e->unread = unread;
	e->shutdown = btf ? BPF_CORE_READ_BITFIELD(sk, sk_shutdown) : BPF_CORE_READ_BITFIELD_PROBED(sk, sk_shutdown);
	if (skflags & sock_flag_bit(bpf_core_enum_value(enum sock_flags, SOCK_DONE)))
		e->flags |= CR_F_FIN_RCVD;
	if (skflags & sock_flag_bit(bpf_core_enum_value(enum sock_flags, SOCK_DEAD)))
		e->flags |= CR_F_ORPHAN;
	if (skflags & sock_flag_bit(bpf_core_enum_value(enum sock_flags, SOCK_KEEPOPEN)))
		e->keepalive = 1;
	e->probes_out = CR_TRD(btf, tp, inet_conn.icsk_probes_out);
	if (skflags & sock_flag_bit(bpf_core_enum_value(enum sock_flags, SOCK_LINGER))) {
		__u64 ticks = CR_RD(btf, sk, sk_lingertime);

		e->flags |= CR_F_LINGER;
		/* without a kernel config the unit is unknown; 0 stays exact, which is what matters */
		e->linger_ms = CONFIG_HZ ? ticks * 1000 / CONFIG_HZ : ticks;
	}
}

/*
 * A reply RST without a socket: take the tuple from the segment being
 * answered, seen from the RST sender's side (local = the segment's
 * destination).
 */
static __always_inline void fill_from_segment(struct cr_event *e, const struct sk_buff *skb)
{
	unsigned char *head = BPF_CORE_READ(skb, head);
	__u16 nh = BPF_CORE_READ(skb, network_header);
	__u16 th = BPF_CORE_READ(skb, transport_header);
	__u8 vihl = 0;
	__u8 tcpflags = 0;
	__u16 ports[2] = {};

	bpf_probe_read_kernel(&vihl, 1, head + nh);
	if ((vihl >> 4) == 4) {
		e->family = CR_AF_INET;
		bpf_probe_read_kernel(e->raddr, 4, head + nh + offsetof(struct iphdr, saddr));
		bpf_probe_read_kernel(e->laddr, 4, head + nh + offsetof(struct iphdr, daddr));
	} else if ((vihl >> 4) == 6) {
		e->family = CR_AF_INET6;
		bpf_probe_read_kernel(e->raddr, 16, head + nh + offsetof(struct ipv6hdr, saddr));
		bpf_probe_read_kernel(e->laddr, 16, head + nh + offsetof(struct ipv6hdr, daddr));
	}
	bpf_probe_read_kernel(ports, sizeof(ports), head + th);
	bpf_probe_read_kernel(&tcpflags, 1, head + th + 13); /* flags byte of struct tcphdr */
	e->rport = bpf_ntohs(ports[0]);
	e->lport = bpf_ntohs(ports[1]);
	e->seg_flags = tcpflags;
	if (!e->netns)
		e->netns = BPF_CORE_READ(skb, dev, nd_net.net, ns.inum);
}

/*
 * Full sockets only. The local port from inet_sport, as in fill_sock_common: the
 * inet_sock_set_state tracepoint fires for X -> CLOSE after inet_put_port() zeroed
 * skc_num, so with skc_num the close of every socket on the filtered LOCAL port (a
 * server's) was filtered out.
 */
static __always_inline bool port_filtered_out(const struct sock *sk)
{
	__u16 lport, rport;

	if (!filter_port)
		return false;
	lport = bpf_ntohs(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
	rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	return lport != filter_port && rport != filter_port;
}

/*
 * Kernel enum sk_rst_reason -> stable cr_rst_reason, generated from CR_RST_REASONS
 * (bpf/connreset.h); each value guarded so a kernel lacking it still loads.
 */
#define CR_MAP_REASON_K(name)                                                           \
	if (bpf_core_enum_value_exists(enum sk_rst_reason, SK_RST_REASON_##name) &&     \
	    r == bpf_core_enum_value(enum sk_rst_reason, SK_RST_REASON_##name))         \
		return CR_RST_##name;
#define CR_MAP_REASON_L(name) /* connreset's own value: no kernel enumerator */
#define CR_MAP_REASON(name, camel, value, kind) CR_MAP_REASON_##kind(name)

static __always_inline __u8 map_rst_reason(int r)
{
	if (!bpf_core_type_exists(enum sk_rst_reason))
		return CR_RST_UNAVAILABLE;
	CR_RST_REASONS(CR_MAP_REASON)
	if (bpf_core_enum_value_exists(enum sk_rst_reason, SK_RST_REASON_MPTCP_RST_EUNSPEC) &&
	    bpf_core_enum_value_exists(enum sk_rst_reason, SK_RST_REASON_MPTCP_RST_EMIDDLEBOX) &&
	    r >= bpf_core_enum_value(enum sk_rst_reason, SK_RST_REASON_MPTCP_RST_EUNSPEC) &&
	    r <= bpf_core_enum_value(enum sk_rst_reason, SK_RST_REASON_MPTCP_RST_EMIDDLEBOX))
		return CR_RST_MPTCP;
	return CR_RST_OTHER;
}

/* The key a socket is known by in every record (see key_by_pointer). */
static __always_inline __u64 sock_key_tracing(struct sock *sk)
{
	__u64 cookie;

	if (key_by_pointer)
		return (__u64)sk;
	/* a socket keeps its cookie once one was asked for: read it, the helper only makes it */
	cookie = sk->__sk_common.skc_cookie.counter;
	return cookie ? cookie : bpf_get_socket_cookie(sk);
}

/* The socket facts every socket record carries: current task, tuple, state, close facts. */
static __always_inline void fill_sock(struct cr_event *e, const struct sock *sk, __u64 key, bool btf)
{
	fill_sock_common(e, sk, btf);
	e->cookie = key;
	fill_sock_full(e, sk, btf);
}

/* A record about sk, reserved and filled; NULL when the ring buffer is full (counted). */
static __always_inline struct cr_event *sock_event(__u8 type, const struct sock *sk, __u64 key, bool btf)
{
	struct cr_event *e = event_reserve(type);

	if (!e)
		return NULL;
	fill_task(e); /* in softirq paths current is often the other end's task: see src/correlate */
	fill_sock(e, sk, key, btf);
	return e;
}

/* Jiffies -> ms with the kernel's own HZ (kconfig); callers check CONFIG_HZ first. */
static __always_inline __u32 jiffies_to_ms(__u32 ticks)
{
	return (__u64)ticks * 1000 / CONFIG_HZ;
}

/*
 * What a socket knew about its connection when an RST arrived: when data last
 * went each way, the last ACK, our unacknowledged bytes, RTT, retransmissions.
 * Read once per received RST (never on the recv/send paths): these are the
 * kernel's own per-socket stamps (tcp_jiffies32), compared with jiffies now.
 */
static __always_inline void fill_rst_evidence(struct cr_event *e, const struct sock *sk, bool btf)
{
	const struct tcp_sock *tp;
	__u32 now;

	if (e->state == CR_TCP_TIME_WAIT || e->state == CR_TCP_NEW_SYN_RECV)
		return;
	tp = tcp_of(sk, btf);
	if (!tp)
		return;
	e->unacked = CR_TRD(btf, tp, snd_nxt) - CR_TRD(btf, tp, snd_una);
	e->srtt_us = CR_TRD(btf, tp, srtt_us) >> 3; /* stored << 3 */
	e->retrans = CR_TRD(btf, tp, total_retrans);
	e->bytes_acked = CR_TRD(btf, tp, bytes_acked);
	e->bytes_received = CR_TRD(btf, tp, bytes_received);
	e->evidence |= CR_EVD_SOCK;
	if (!CONFIG_HZ)
		return; /* no kernel config: jiffies have no known length */
	now = (__u32)bpf_jiffies64();
	e->since_send_ms = jiffies_to_ms(now - CR_TRD(btf, tp, lsndtime));
	e->since_recv_ms = jiffies_to_ms(now - CR_TRD(btf, tp, inet_conn.icsk_ack.lrcvtime));
	e->since_ack_ms = jiffies_to_ms(now - CR_TRD(btf, tp, rcv_tstamp));
	e->evidence |= CR_EVD_TIMES;
}

/*
 * The segment tcp_reset() was called for (fentry/kprobe on 5.15+). Normally
 * the RST itself: its flags tell a reply to an unknown segment (bare RST)
 * from an abort (RST|ACK), its ack_seq how much of ours the peer had. Data
 * instead of an RST means a local abort (data after close, see KERNEL.md).
 */
static __always_inline void fill_rst_segment(struct cr_event *e, const struct sock *sk,
					     const struct sk_buff *skb)
{
	const struct tcp_sock *tp = (const struct tcp_sock *)sk;
	unsigned char *head = BPF_CORE_READ(skb, head);
	__u16 th = BPF_CORE_READ(skb, transport_header);
	__u8 flags = 0;
	__u32 ack = 0;

	if (bpf_probe_read_kernel(&flags, 1, head + th + 13)) /* flags byte of struct tcphdr */
		return;
	if (!(flags & CR_TCP_RST)) {
		e->evidence |= CR_EVD_NOT_RST;
		return;
	}
	e->rst_flags = flags;
	e->evidence |= CR_EVD_SEG;
	if ((flags & CR_TCP_ACK) && !bpf_probe_read_kernel(&ack, 4, head + th + 8))
		e->rst_acked = bpf_ntohl(ack) - BPF_CORE_READ(tp, snd_una);
}

#endif /* CONNRESET_SOCK_READ_BPF_H */
