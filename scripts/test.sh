#!/usr/bin/env bash
# Installs, builds and runs every test: unit and e2e (real kernel) through
# ctest, then the e2e suite inside VMs booting other kernels (scripts/vmtest.sh).
#   sudo scripts/test.sh
# CONNRESET_SKIP_VMTEST=1 leaves out the VM part (for quick local runs; CI never sets it).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
require_root
install_deps
build
ensure_mounts

log "ctest: unit and e2e on $(uname -r)"
# DisposableKernel.* changes host-wide sysctls: it runs in the VMs (vmtest.sh), never here
log "DisposableKernel.* (host-wide sysctls) left out here; scripts/vmtest.sh runs it in VMs"
ctest --test-dir "$CONNRESET_BUILD" --output-on-failure -j1 -E '^DisposableKernel\.'


if [ "${CONNRESET_SKIP_VMTEST:-0}" = 1 ]; then
  log "CONNRESET_SKIP_VMTEST=1: VM kernels not tested"
elif [ -x "$CONNRESET_ROOT/scripts/vmtest.sh" ]; then
  "$CONNRESET_ROOT/scripts/vmtest.sh"
fi
