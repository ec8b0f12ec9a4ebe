#!/usr/bin/env bash
# Installs the Debian packages connreset needs to build and test.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
require_root
install_deps
