#!/usr/bin/env bash
# `cmake --install` into a scratch prefix puts every piece in place, and each piece works there:
#   cmake_install_test.sh BUILD_DIR
# binary (runs), man page (renders, section 8), systemd unit (ExecStart = the installed binary),
# bash and zsh completion (complete the installed binary's subcommands, options and values).
set -euo pipefail
build=$1
prefix=$(mktemp -d "${TMPDIR:-/tmp}/connreset-install.XXXXXX")
trap 'rm -rf "$prefix"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$prefix" >"$prefix.log" 2>&1 || { cat "$prefix.log" >&2; fail "cmake --install"; }
rm -f "$prefix.log"
bin=$prefix/sbin/connreset
for f in sbin/connreset share/man/man8/connreset.8.gz lib/systemd/system/connreset-record.service \
	share/bash-completion/completions/connreset share/zsh/vendor-completions/_connreset; do
	[[ -e $prefix/$f ]] || fail "$f not installed under the prefix"
	echo "installed: $f"
done
"$bin" --version | grep -q '^connreset ' || fail "$bin --version"

# man: renders from the installed, compressed file, with every section the page promises
page=$(MANWIDTH=100 man -l "$prefix/share/man/man8/connreset.8.gz" 2>&1) || fail "man -l failed: $page"
for s in NAME SYNOPSIS COMMANDS 'TRACING OPTIONS' CAUSES 'EXIT STATUS' EXAMPLES; do
	grep -q "^$s" <<<"$page" || fail "man page has no $s section"
done
head -n 1 <<<"$page" | grep -q 'CONNRESET(8)' || fail "man page is not connreset(8)"

# systemd unit: starts the binary of this prefix, not /usr/sbin
grep -qx "ExecStart=$bin record .*" "$prefix/lib/systemd/system/connreset-record.service" ||
	fail "unit ExecStart does not name $bin: $(grep ExecStart "$prefix/lib/systemd/system/connreset-record.service")"

# Completion, as the shells call it, against the installed binary (found in PATH).
export PATH=$prefix/sbin:$PATH
subs=$("$bin" --help | awk '/^[A-Za-z ]*:$/ { on = tolower($0) ~ /subcommand/; next } on && /^  [a-z]/ { print $1 }' | sort)
[[ -n $subs ]] || fail "no subcommands in connreset --help"
bash_complete() { # words...: completes the last word, prints the candidates sorted
	bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _connreset; printf "%s\n" "${COMPREPLY[@]}" | sort' \
		_ "$prefix/share/bash-completion/completions/connreset" "$@"
}
zsh_complete() { # the same through the zsh function, with compadd/_files recording candidates
	zsh -f -c 'compadd() { [[ $1 == -- ]] && shift; print -l -- "$@"; }; _files() { print -- FILES; }
		words=("${@:2}"); CURRENT=${#words}; PREFIX=${words[CURRENT]}
		. "$1" | grep -- "^${PREFIX}" | sort' _ "$prefix/share/zsh/vendor-completions/_connreset" "$@"
}
for shell in bash zsh; do
	got=$(${shell}_complete connreset "" | grep -v '^--')
	[[ $got == "$subs" ]] || fail "$shell: subcommands completed: [$got], --help lists: [$subs]"
	for s in $subs; do
		want=$("$bin" "$s" --help | awk '/^ +-/ { n = split($1, a, ","); for (i = 1; i <= n; i++) print a[i] }' | sort)
		got=$(${shell}_complete connreset "$s" - | grep '^-' || true)
		[[ $got == "$want" ]] || fail "$shell: options of $s completed: [$got], --help lists: [$want]"
	done
	got=$(${shell}_complete connreset trace --probes "" | tr '\n' ' ')
	[[ $got == "auto fentry kprobe tracepoint " ]] || fail "$shell: --probes values: [$got]"
	echo "completion ($shell): $(wc -w <<<"$subs") subcommands, options of each, --probes values"
done
echo "cmake --install: ok ($prefix)"
