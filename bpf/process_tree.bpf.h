/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * `connreset run`: follow CMD's whole process tree in the kernel.
 *
 * User space seeds tree_tasks with CMD's tgid before CMD may run; from then on
 * every process a tree member creates joins the tree, whatever it does later
 * (exec, setsid, double fork: membership is by descent, not by session,
 * process group or parent, so reparenting to init changes nothing).
 *
 * task_newtask fires inside copy_process(), before the child can run, in the
 * creator's context; sched_process_fork fires only after wake_up_new_task(),
 * so a short-lived child could exit before it and stay "alive" forever.
 * Exec keeps the tgid, so it needs no hook. sched_process_exit fires for every
 * thread after signal->live was decremented (5.10 .. 6.18): live == 0 means
 * the whole process is gone. The entry is only marked; user space reads and
 * deletes it, so a process that lived less than one poll is still seen.
 *
 * These programs are loaded only for `run` (the loader leaves them out
 * otherwise and shrinks the map to one entry): trace's paths are unchanged.
 */
#ifndef CONNRESET_PROCESS_TREE_BPF_H
#define CONNRESET_PROCESS_TREE_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "process_tree_map.h"

#define CR_CLONE_THREAD 0x00010000 /* include/uapi/linux/sched.h */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CR_TREE_MAX_DEFAULT); /* resized by the loader (--max-processes) */
	__type(key, __u32);                      /* tgid */
	__type(value, struct cr_tree_task);
} tree_tasks SEC(".maps");

/* [0]: processes of the tree not tracked because tree_tasks was full */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} tree_untracked SEC(".maps");

SEC("tp_btf/task_newtask")
int BPF_PROG(tree_newtask, struct task_struct *task, unsigned long clone_flags)
{
	if (clone_flags & CR_CLONE_THREAD)
		return 0; /* a thread of the same process */
	__u32 parent = bpf_get_current_pid_tgid() >> 32;
	if (!bpf_map_lookup_elem(&tree_tasks, &parent))
		return 0;
	__u32 child = BPF_CORE_READ(task, tgid);
	struct cr_tree_task v = {.start_ns = bpf_ktime_get_ns(), .parent = parent};

	/* BPF_ANY: an exited entry of a recycled tgid not yet harvested is replaced */
	if (bpf_map_update_elem(&tree_tasks, &child, &v, BPF_ANY) != 0) {
		__u32 zero = 0;
		__u64 *n = bpf_map_lookup_elem(&tree_untracked, &zero);

		if (n)
			__sync_fetch_and_add(n, 1);
	}
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(tree_exit, struct task_struct *p)
{
	__u32 tgid = BPF_CORE_READ(p, tgid);
	struct cr_tree_task *t = bpf_map_lookup_elem(&tree_tasks, &tgid);

	if (!t)
		return 0;
	if (BPF_CORE_READ(p, signal, live.counter) != 0)
		return 0; /* other threads of the process still run */
	t->exit_code = BPF_CORE_READ(p, exit_code);
	t->exit_ns = bpf_ktime_get_ns();
	return 0;
}

#endif /* CONNRESET_PROCESS_TREE_BPF_H */
