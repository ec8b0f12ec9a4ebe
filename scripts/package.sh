#!/usr/bin/env bash
# Builds the Debian package from the build tree and checks it with lintian.
#   sudo scripts/package.sh            -> build/package/connreset_<version>_amd64.deb (path on stdout)
# The package holds what `cmake --install` installs, under /usr, stripped; its Depends come from
# dpkg-shlibdeps. lintian errors fail the script (warnings are printed).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" -eq 0 ] && install_deps
build
out=$CONNRESET_BUILD/package
rm -rf "$out"
mkdir -p "$out"
# cpack reads the build tree's CPackConfig.cmake; -B: packages and scratch go to $out
(cd "$CONNRESET_BUILD" && cpack -G DEB -B "$out" >"$out/cpack.log" 2>&1) || {
  cat "$out/cpack.log" >&2
  die "cpack failed"
}
deb=$(ls "$out"/*.deb)
[ "$(echo "$deb" | wc -l)" -eq 1 ] || die "expected one .deb in $out, got: $deb"
log "package: $deb"
dpkg-deb --field "$deb" Package Version Architecture Depends >&2
# --fail-on error: warnings and infos are shown, not fatal. The suppressed tag is about the
# changelog's distribution, which names no Debian suite on purpose (not uploaded to Debian).
if ! lintian --fail-on error --no-tag-display-limit "$deb" >"$out/lintian.txt" 2>&1; then
  cat "$out/lintian.txt" >&2
  die "lintian reports errors for $deb"
fi
[ -s "$out/lintian.txt" ] && sed 's/^/  lintian: /' "$out/lintian.txt" >&2
echo "$deb"
