#!/usr/bin/env bash
# Boot a Debian kernel under qemu (TCG) and run one program inside; exit with its status.
#
#   scripts/vm/run-in-vm.sh KERNEL -- PROGRAM [ARGS...]
#
# KERNEL is 5.10 (Debian 11 linux-image-5.10.0-N-cloud-amd64-unsigned, from a private bullseye
# index), 6.1 (Debian 12 linux-image-6.1.0-N-amd64) or 6.12 (linux-image-6.12.N+deb12-cloud-
# amd64-unsigned). The newest package apt knows is downloaded once into $CONNRESET_VM_CACHE.
# PROGRAM and the shared libraries it links are copied into a busybox initramfs at their host
# paths; the guest starts in the host's working directory. See lib.sh for the CONNRESET_VM_*
# environment knobs (timeout, guest environment, extra files, modules, ...).
#
# Exit status: the program's status; 124 if the VM did not come back within the timeout, 125 if
# it ended without reporting (panic, crash), 1/2 for setup/usage errors.
set -euo pipefail

VM_PROG=run-in-vm
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

usage() {
	sed -n '2,15s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
	exit "${1:-2}"
}

[[ ${1:-} == -h || ${1:-} == --help ]] && usage 0
if (($# < 3)) || [[ $2 != -- ]]; then
	usage 2
fi
kernel=$1
shift 2
prog=$1
shift
if [[ ! -f $prog && $prog != */* ]]; then # a bare command name: look it up in PATH
	found=$(command -v "$prog") || vm_die "$prog: command not found"
	prog=$found
fi
[[ -f $prog ]] || vm_die "$prog: no such file"
vm_kernel_regex "$kernel" >/dev/null # rejects unknown series before any install

vm_install_signal_traps # and EXIT: stop qemu, remove $VM_WORK

vm_ensure_host_tools
vm_kernel_fetch "$kernel"
vm_log "kernel $VM_KVER (package $VM_KERNEL_PKG)"

VM_WORK=$(mktemp -d "${TMPDIR:-/tmp}/connreset-vm.XXXXXX")
work=$VM_WORK

t0=$(vm_now)
vm_build_initramfs "$work/initrd.gz" "$VM_KERNEL_DIR" "$VM_KVER" "$prog" "$@"
vm_log "initramfs $(du -h "$work/initrd.gz" | cut -f1) built in $(vm_elapsed "$t0") s"

t1=$(vm_now)
# A guest kernel that dies before /init ran is qemu's fault, not the program's: TCG now and then
# runs a stale translation of code the kernel patches at boot (seen: "Oops: int3" in
# sched_clock_cpu during initcalls). Boot again, at most twice; a crash after /init never is.
for attempt in 1 2 3; do
	rc=0
	vm_run_qemu "$VM_KERNEL_DIR" "$work/initrd.gz" "$work/console.log" || rc=$?
	((rc == 125)) && ! grep -q '^vm-init: ' "$work/console.log" && ((attempt < 3)) || break
	vm_log "the guest kernel crashed before /init (attempt $attempt): booting again"
done
# Guest uptime when the program started = kernel boot + init setup, as printed by /init.
boot=$(sed -n 's/^vm-init: .* up \([0-9.]*\)s, running:.*/\1/p' "$work/console.log" | head -n 1)
vm_log "kernel $VM_KVER: VM wall time $(vm_elapsed "$t1") s (guest boot ${boot:-?} s), total $(vm_elapsed "$t0") s, status $rc"
exit "$rc"
