#!/usr/bin/env bash
# Configures and builds into build/ (CONNRESET_BUILD to change).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" -eq 0 ] && install_deps
build
log "built $CONNRESET_BUILD/connreset"
