// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The floor: programs that do nothing, one per connreset program, on the same hook,
 * named "floor_" + connreset's program name. What they cost is what the kernel charges
 * for calling any BPF program there; connreset's own work is the rest.
 * tests/bench/probe_ab.cpp loads the recv/send ones for its A/B slices, and all the
 * plan's with --hold (the "floor" variant of scripts/bench.sh: the throughput a tracer
 * on these hooks cannot beat).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define FLOOR_TP(name, hook) SEC("tp_btf/" hook) int BPF_PROG(floor_##name) { return 0; }
#define FLOOR_FE(name, fn) SEC("fentry/" fn) int BPF_PROG(floor_##name) { return 0; }
#define FLOOR_FX(name, fn) SEC("fexit/" fn) int BPF_PROG(floor_##name) { return 0; }
#define FLOOR_KP(name, fn) SEC("kprobe/" fn) int BPF_KPROBE(floor_##name) { return 0; }
#define FLOOR_KR(name, fn) SEC("kretprobe/" fn) int BPF_KRETPROBE(floor_##name) { return 0; }

/* family "tracepoint" */
FLOOR_TP(tp_send_reset, "tcp_send_reset")
FLOOR_TP(tp_receive_reset, "tcp_receive_reset")
FLOOR_TP(tp_set_state, "inet_sock_set_state")
FLOOR_TP(tp_recv_length, "sock_recv_length")
FLOOR_TP(tp_send_length, "sock_send_length")
FLOOR_TP(tp_destroy_sock, "tcp_destroy_sock")

/* family "fentry" */
FLOOR_FE(fe_send_active_reset, "tcp_send_active_reset")
FLOOR_FE(fe_v4_send_reset, "tcp_v4_send_reset")
FLOOR_FE(fe_v6_send_reset, "tcp_v6_send_reset")
FLOOR_FE(fe_reset_skb, "tcp_reset")
FLOOR_FE(fe_reset, "tcp_reset")
FLOOR_FE(fe_set_state, "tcp_set_state")
FLOOR_FE(fe_tcp_close, "__tcp_close")
FLOOR_FX(fx_recvmsg, "tcp_recvmsg")
FLOOR_FX(fx_recvmsg_nb, "tcp_recvmsg")
FLOOR_FX(fx_sendmsg, "tcp_sendmsg")
FLOOR_FE(fe_destroy_sock, "tcp_v4_destroy_sock")

/* family "kprobe" */
FLOOR_KP(kp_send_active_reset, "tcp_send_active_reset")
FLOOR_KP(kp_v4_send_reset, "tcp_v4_send_reset")
FLOOR_KP(kp_v6_send_reset, "tcp_v6_send_reset")
FLOOR_KP(kp_reset, "tcp_reset")
FLOOR_KP(kp_set_state, "tcp_set_state")
FLOOR_KP(kp_tcp_close, "__tcp_close")
FLOOR_KP(kp_recvmsg, "tcp_recvmsg")
FLOOR_KR(kr_recvmsg, "tcp_recvmsg")
FLOOR_KP(kp_sendmsg, "tcp_sendmsg")
FLOOR_KR(kr_sendmsg, "tcp_sendmsg")
