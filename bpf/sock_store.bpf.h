/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What connreset keeps per socket in the kernel, in storage that lives in the socket
 * itself (tp_btf, fentry/fexit: BTF socket pointers; freed with the socket, so nothing
 * stale is left to evict): the recv()/send() phase state of the first task per direction
 * (bpf/sock_calls.bpf.h), the lifecycle facts the quiet path puts on the reset records
 * instead of emitting the state changes they come from (bpf/lifecycle.bpf.h) and the
 * owner whose first recv()/send() record it put off (bpf/owner.bpf.h).
 * Kprobe plans key sockets by address and have no socket storage: they use hashes.
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

/*
 * The first recv()/send() of a task on the socket, whose record the quiet path put off
 * (bpf/owner.bpf.h): the record it would have been, written only if a reset or another
 * task's record needs the owner. tgid 0: none put off.
 */
struct owner_note {
	__u64 ts_ns;
	__u64 cgroup;
	__u32 tgid;
	__u32 tid;
	__s32 ret;
	__u8 call;
	__u8 pad[3];
	char comm[CR_COMM_LEN];
};

struct sock_store {
	struct call_stat dir[2]; /* by enum cr_call */
	__u64 opened_ns; /* SYN_RECV -> ESTABLISHED or connect(), left out (quiet path): the connection's start */
	__u64 fin_ns;    /* ESTABLISHED -> CLOSE_WAIT, left out (quiet path): the peer's FIN */
	__u32 known_tgid; /* the owner user space last learned from a record (quiet path) */
	struct owner_note owner; /* put off (quiet path) */
};

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct sock_store);
} sock_store SEC(".maps");

#endif /* CONNRESET_SOCK_STORE_BPF_H */
