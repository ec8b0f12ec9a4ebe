#!/usr/bin/env bash
# Sets up what is missing (packages, build, mounts) and runs connreset:
#   sudo scripts/run.sh demo
#   sudo scripts/run.sh trace [--json] [--duration S] [--pid P] [--comm C] [--port N]
#   sudo scripts/run.sh doctor
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
require_root
install_deps
build
ensure_mounts
exec "$CONNRESET_BUILD/connreset" "${@:-demo}"
