// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The floor for tests/bench/probe_ab.cpp: programs that do nothing, on the hooks
 * connreset's recv/send programs use. What they cost is what the kernel
 * charges for calling any BPF program there; connreset's own work is the rest.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("tp_btf/sock_recv_length")
int BPF_PROG(floor_tp_recv) { return 0; }

SEC("tp_btf/sock_send_length")
int BPF_PROG(floor_tp_send) { return 0; }

SEC("fexit/tcp_recvmsg")
int BPF_PROG(floor_fx_recv) { return 0; }

SEC("fexit/tcp_sendmsg")
int BPF_PROG(floor_fx_send) { return 0; }

SEC("kprobe/tcp_recvmsg")
int BPF_KPROBE(floor_kp_recv) { return 0; }

SEC("kretprobe/tcp_recvmsg")
int BPF_KRETPROBE(floor_kr_recv) { return 0; }

SEC("kprobe/tcp_sendmsg")
int BPF_KPROBE(floor_kp_send) { return 0; }

SEC("kretprobe/tcp_sendmsg")
int BPF_KRETPROBE(floor_kr_send) { return 0; }
