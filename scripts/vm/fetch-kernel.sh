#!/usr/bin/env bash
# Make sure a Debian kernel series is in the VM cache (and qemu & co. installed), without booting.
#
#   scripts/vm/fetch-kernel.sh KERNEL        KERNEL: 6.1 or 6.12
#
# For callers that boot later from where there is no network: the remote-peer tests start their
# peer guest inside a private network namespace, so they fetch first (see lib.sh for the cache).
set -euo pipefail
VM_PROG=fetch-kernel
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
(($# == 1)) || { sed -n '2,7s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 2; }
vm_kernel_regex "$1" >/dev/null
vm_ensure_host_tools
vm_kernel_fetch "$1"
vm_log "kernel $VM_KVER (package $VM_KERNEL_PKG) in $VM_KERNEL_DIR"
