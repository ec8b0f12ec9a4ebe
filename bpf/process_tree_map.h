/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The process tree `connreset run` follows: one entry per process (tgid) of
 * the tree, shared by the kernel side (bpf/process_tree.bpf.h) and user space
 * (src/run/process_tree.cpp). Plain fixed-size C types only.
 */
#ifndef CONNRESET_PROCESS_TREE_MAP_H
#define CONNRESET_PROCESS_TREE_MAP_H

#define CR_TREE_MAX_DEFAULT 8192

struct cr_tree_task {
	unsigned long long start_ns; /* CLOCK_MONOTONIC when it was created (or seeded) */
	unsigned long long exit_ns;  /* when its last thread exited; 0 while it runs */
	unsigned int parent;         /* tgid of the process that created it; 0 for the seed */
	int exit_code;               /* task->exit_code of the last thread (wait status form) */
};

#endif /* CONNRESET_PROCESS_TREE_MAP_H */
