#!/usr/bin/env bash
# The Debian package installs on this machine, works from the installed path, and removes
# cleanly (root; CI runs on a disposable machine):
#   deb_test.sh PACKAGE.deb
# - its Depends name the package of every shared library the binary needs (readelf NEEDED ->
#   dpkg -S), so dpkg -i on a host without the build dependencies gets them;
# - the installed binary is stripped; man connreset finds connreset(8); the systemd unit names
#   /usr/sbin/connreset; bash completion is in place;
# - /usr/sbin/connreset doctor and /usr/sbin/connreset demo work;
# - dpkg -r leaves none of its files behind.
set -euo pipefail
# Under pipefail a reader that stops early (awk's exit, head, grep -q) can kill the writer with
# SIGPIPE and fail the pipeline (seen: ldconfig -p | awk ... exit, 1 lookup in 25): every reader
# below reads its input to the end.
deb=$(realpath "$1")
fail() { echo "FAIL: $*" >&2; exit 1; }
[[ $(id -u) == 0 ]] || fail "run as root"
if dpkg-query -W -f='${Status}' connreset 2>/dev/null | grep -q 'ok installed'; then
	fail "a connreset package is installed already: remove it first (dpkg -r connreset)"
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/connreset-deb.XXXXXX")
installed=""
cleanup() {
	[[ -z $installed ]] || dpkg -r connreset >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

depends=$(dpkg-deb --field "$deb" Depends)
echo "Depends: $depends"
dep_names=$(tr ',|' '\n\n' <<<"$depends" | sed -E 's/^ *//; s/[ (].*//')
dpkg-deb -x "$deb" "$work/x"
while read -r lib; do
	path=$(ldconfig -p | awk -v l="$lib" '$1 == l && /x86-64/ && !p { p = $NF } END { print p }')
	[[ -n $path ]] || fail "cannot find $lib on this machine"
	pkg=$(dpkg -S "$(realpath "$path")" 2>/dev/null | sed -n '1s/:.*//p') ||
		pkg=$(dpkg -S "$path" | sed -n '1s/:.*//p')
	grep -qxF "$pkg" <<<"$dep_names" || fail "the binary needs $lib (package $pkg), Depends lacks it"
done < <(readelf -dW "$work/x/usr/sbin/connreset" | sed -nE 's/.*\(NEEDED\).*\[(.*)\]/\1/p')
[[ $(readelf -SW "$work/x/usr/sbin/connreset" | grep -c '\.symtab') == 0 ]] || fail "/usr/sbin/connreset is not stripped"

dpkg -i "$deb" >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log" >&2; fail "dpkg -i"; }
installed=1
files=$(dpkg -L connreset)
for f in /usr/sbin/connreset /usr/share/man/man8/connreset.8.gz /usr/share/bash-completion/completions/connreset \
	/usr/share/zsh/vendor-completions/_connreset /usr/share/doc/connreset/copyright; do
	grep -qx "$f" <<<"$files" || fail "$f not installed by the package"
done
unit=$(grep -E '/systemd/system/connreset-record.service$' <<<"$files") || fail "no systemd unit in the package"
grep -qx 'ExecStart=/usr/sbin/connreset record .*' "$unit" || fail "$unit does not start /usr/sbin/connreset"
[[ $(man -w connreset) == /usr/share/man/man8/connreset.8.gz ]] || fail "man -w connreset: $(man -w connreset 2>&1)"
echo "installed: $(wc -l <<<"$files") paths; unit $unit"

/usr/sbin/connreset doctor >"$work/doctor.txt" 2>&1 || { cat "$work/doctor.txt" >&2; fail "installed connreset doctor"; }
echo "ok: /usr/sbin/connreset doctor: $(grep '^verdict' "$work/doctor.txt")"
/usr/sbin/connreset demo >"$work/demo.txt" 2>&1 || { tail -n 40 "$work/demo.txt" >&2; fail "installed connreset demo"; }
n=$(grep -cE '^[0-9:.]+ RESET ' "$work/demo.txt" || true)  # the block's first line: time, RESET
((n > 0)) || { tail -n 40 "$work/demo.txt" >&2; fail "demo explained no reset"; }
echo "ok: /usr/sbin/connreset demo: $n resets explained"

dpkg -r connreset >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log" >&2; fail "dpkg -r"; }
installed=""
while read -r f; do
	[[ -f $f ]] && fail "$f is left after dpkg -r"
done <<<"$files"
echo "deb: ok"
