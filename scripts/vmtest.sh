#!/usr/bin/env bash
# Run the connreset end-to-end tests inside VMs booting Debian's 5.10, 6.1 and 6.12 kernels.
#
#   scripts/vmtest.sh [-h] [KERNEL...]        KERNEL: 5.10 6.1 6.12 (default: all three)
#
# For each kernel and each probe family, boots a fresh VM (scripts/vm/run-in-vm.sh) and runs
#   $CONNRESET_E2E_BIN --gtest_brief=1 $CONNRESET_E2E_ARGS   with CONNRESET_PROBES=<family>
# then prints a table and "vmtest: N passed, M failed". Exits non-zero if a run failed or a VM
# did not come back. A run that exits 77 after printing "UNSUPPORTED: ..." counts as unsupported.
#
# Environment:
#   CONNRESET_E2E_BIN      test binary (default build/tests/connreset_e2e, relative to the repo)
#   CONNRESET_E2E_ARGS     extra arguments for it (split on blanks)
#   CONNRESET_VM_FAMILIES  probe families (default "auto tracepoint fentry kprobe"; auto = what users get)
#   CONNRESET_VM_LOGDIR    where the console logs go (default: a new directory under /tmp)
#   CONNRESET_VM_PORTABLE  the connreset the tests spawn in the guest: the static build
#                          (default <build>/connreset-portable, used when it exists); "require":
#                          fail without it (scripts/test.sh); "0": the dynamic build/connreset
#   CONNRESET_VM_*         passed on to run-in-vm.sh (cache, timeout, env, extra files, ...)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

usage() {
	sed -n '2,21s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
	exit "${1:-2}"
}

for a in "$@"; do
	case $a in
	-h | --help) usage 0 ;;
	-*) usage 2 ;;
	esac
done

kernels=("$@")
# 5.10: Debian 11 and Amazon Linux 2 (kprobes; no tracepoint family there, see KERNEL.md).
((${#kernels[@]})) || kernels=(5.10 6.1 6.12)
read -r -a families <<<"${CONNRESET_VM_FAMILIES:-auto tracepoint fentry kprobe}"
read -r -a e2e_args <<<"${CONNRESET_E2E_ARGS:-}"
bin=${CONNRESET_E2E_BIN:-build/tests/connreset_e2e}
[[ $bin == /* ]] || bin=$root/$bin
[[ -x $bin ]] || {
	echo "vmtest: $bin not found or not executable (build it, or set CONNRESET_E2E_BIN)" >&2
	exit 2
}
# What the e2e suite needs besides its own binary, at the same absolute paths as on the host:
# - the connreset binary it spawns (compiled in as CMake's $<TARGET_FILE:connreset>, i.e.
#   <build>/connreset next to <build>/tests/), with its shared libraries;
# - util-linux setpriv (busybox's lacks --reuid/--regid used by the unprivileged test) and
#   iproute2 ip (busybox's cannot create veth pairs); busybox fills in everything else.
tool_bin=$(realpath -s -m "$(dirname "$bin")/../connreset")
# The portable (static) connreset goes to that path in the guest: every test that runs the tool
# runs the one file users copy to any distribution (it needs none of the libraries staged for
# the test binary). Checked static here, so a dynamic build cannot pass for it.
portable=$(realpath -s -m "$(dirname "$bin")/../connreset-portable")
case ${CONNRESET_VM_PORTABLE:-auto} in
0) portable="" ;;
require) [[ -x $portable ]] || {
	echo "vmtest: $portable not found (build the connreset-portable target)" >&2
	exit 2
} ;;
auto) [[ -x $portable ]] || portable="" ;;
*) portable=$CONNRESET_VM_PORTABLE ;;
esac
if [[ -n $portable ]]; then
	if [[ $(readelf -lW "$portable" | grep -c INTERP) != 0 || $(readelf -dW "$portable" | grep -c NEEDED) != 0 ]]; then
		echo "vmtest: $portable is not statically linked" >&2
		exit 2
	fi
	echo "vmtest: the tool in the VMs is $portable (static) at $tool_bin"
	export CONNRESET_VM_EXTRA="$portable:$tool_bin${CONNRESET_VM_EXTRA:+ $CONNRESET_VM_EXTRA}"
elif [[ -x $tool_bin ]]; then
	echo "vmtest: the tool in the VMs is $tool_bin (dynamic; build connreset-portable to test that)"
	export CONNRESET_VM_EXTRA="$tool_bin${CONNRESET_VM_EXTRA:+ $CONNRESET_VM_EXTRA}"
fi
export CONNRESET_VM_TOOLS="setpriv ip${CONNRESET_VM_TOOLS:+ $CONNRESET_VM_TOOLS}"
logdir=${CONNRESET_VM_LOGDIR:-$(mktemp -d "${TMPDIR:-/tmp}/connreset-vmtest.XXXXXX")}
mkdir -p "$logdir"

# The guest starts in the host's working directory: from the repo root, relative paths in
# CONNRESET_E2E_ARGS / CONNRESET_VM_EXTRA mean the same inside and outside the VM.
cd "$root"

# Ctrl-C or a CI cancel (possibly sent to this process only): stop the current run-in-vm.sh (its
# TERM trap stops qemu), then die by the same signal instead of going on with the next run.
# run-in-vm.sh runs in the background with `wait`, because bash delays traps until a
# foreground command ends; it gets TERM, as background jobs of a script ignore SIGINT.
child=""
# shellcheck disable=SC2317 # invoked from traps
on_signal() {
	trap '' INT TERM
	echo "vmtest: interrupted (SIG$1)" >&2
	if [[ -n $child ]]; then
		kill -TERM "$child" 2>/dev/null || true
		wait "$child" 2>/dev/null || true
	fi
	trap - "$1" INT TERM
	kill -s "$1" $$
}
trap 'on_signal INT' INT
trap 'on_signal TERM' TERM

rows=()
total_pass=0 total_fail=0 bad=0

# GoogleTest counts from a console log ("" when absent). Colour codes are stripped in case the
# binary forces --gtest_color.
gtest_clean() { sed -E 's/\x1b\[[0-9;]*m//g' "$1"; }
gtest_passed() { # the last "[  PASSED  ] N tests." summary
	gtest_clean "$1" | sed -nE 's/^\[  PASSED  \] ([0-9]+) tests?\..*/\1/p' | tail -n 1
}
gtest_failed() {
	local n
	# Full output has a summary "[  FAILED  ] N tests, listed below:". --gtest_brief=1 drops
	# it and keeps only one "[  FAILED  ] Suite.Name (N ms)" line per failed test: count those.
	n=$(gtest_clean "$1" | sed -nE 's/^\[  FAILED  \] ([0-9]+) tests?, listed below.*/\1/p' | tail -n 1)
	if [[ -z $n ]]; then
		n=$(gtest_clean "$1" |
			sed -nE 's/^\[  FAILED  \] ([^ ,]+)(, where .*)? \([0-9]+ ms\)$/\1/p' | sort -u | wc -l)
		((n)) || n=""
	fi
	echo "$n"
}

for k in "${kernels[@]}"; do
	for f in "${families[@]}"; do
		log=$logdir/$k-$f.log
		echo "=== vmtest: kernel $k, probes $f ==="
		start=$SECONDS
		rc=0
		# One fresh VM per family: no BPF programs, links or pinned maps leak from one family's run
		# into the next, and a crash costs one family only. A boot is ~3 s (see lib.sh).
		# CONNRESET_DISPOSABLE_KERNEL=1: the VM is thrown away, tests may change host-wide
		# state there (tests/e2e: DisposableKernel.*). CONNRESET_PROBES last: the family of
		# this run wins over a user-supplied value.
		# GTEST_FILTER: ReportHtml.* is a browser check (python3 + Chromium, which the guest lacks)
		# of a page no kernel changes, and JsonSchema.* needs python3-jsonschema (also absent
		# there): the host's ctest runs both. A --gtest_filter in CONNRESET_E2E_ARGS takes
		# precedence over this variable.
		CONNRESET_VM_ENV="CONNRESET_DISPOSABLE_KERNEL=1 GTEST_FILTER=-ReportHtml.*:JsonSchema.*${CONNRESET_VM_ENV:+ $CONNRESET_VM_ENV} CONNRESET_PROBES=$f" \
			"$root/scripts/vm/run-in-vm.sh" "$k" -- "$bin" --gtest_brief=1 "${e2e_args[@]}" \
			> >(tee "$log") 2>&1 &
		child=$!
		wait "$child" || rc=$?
		child=""
		wait # for tee (the last process substitution) to flush the log
		secs=$((SECONDS - start))

		passed=$(gtest_passed "$log")
		failed=$(gtest_failed "$log")
		# GoogleTest prints no FAILED summary when nothing failed.
		[[ -n $passed && -z $failed ]] && failed=0
		if ! grep -aq 'CONNRESET-VM-EXIT [0-9]' "$log"; then
			status=VM-FAILED # timeout, panic, or run-in-vm could not even start the VM
		elif ((rc == 77)) && grep -aq '^UNSUPPORTED:' "$log"; then
			status=unsupported
		elif ((rc == 0)) && [[ -n $passed && ${failed:-0} == 0 ]]; then
			status=ok
		else
			status=FAILED # includes exit 0 without a gtest summary: the binary did not run tests
		fi
		[[ $status == FAILED || $status == VM-FAILED ]] && bad=1
		total_pass=$((total_pass + ${passed:-0}))
		total_fail=$((total_fail + ${failed:-0}))
		rows+=("$k|$f|${passed:--}|${failed:--}|$status|$secs")
	done
done

echo
printf '%-8s %-12s %7s %7s  %-12s %5s\n' kernel family passed failed status secs
for r in "${rows[@]}"; do
	IFS='|' read -r k f p n s t <<<"$r"
	printf '%-8s %-12s %7s %7s  %-12s %5s\n' "$k" "$f" "$p" "$n" "$s" "$t"
done
echo "console logs: $logdir"
echo "vmtest: $total_pass passed, $total_fail failed"
exit "$bad"
