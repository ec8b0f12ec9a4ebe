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

# Dogfood `connreset run`: one of our own e2e scenarios (a server closes with unread data) as
# the CI command, with the options a CI job uses; the JUnit file must carry that reset as a failure.
log "dogfood: an e2e scenario under connreset run --fail-on any --junit"
dog_junit="$CONNRESET_BUILD/dogfood-junit.xml"
dog_rc=0
"$CONNRESET_BUILD/connreset" run --json --fail-on any --junit "$dog_junit" -- \
  "$CONNRESET_BUILD/tests/connreset_e2e" --gtest_brief=1 \
  --gtest_filter='DemoScenarios.UnreadDataAtClose_BlamesTheServerThatClosed' \
  >"$CONNRESET_BUILD/dogfood.log" 2>&1 || dog_rc=$?
[ "$dog_rc" = 99 ] || { tail -n 40 "$CONNRESET_BUILD/dogfood.log" >&2; die "dogfood: connreset run exited $dog_rc, expected 99 (--fail-on any matched)"; }
python3 "$CONNRESET_ROOT/scripts/check_junit.py" "$dog_junit" "$CONNRESET_BUILD/dogfood.log" \
  || die "dogfood: the JUnit report is not what the run saw (log: $CONNRESET_BUILD/dogfood.log)"

# Install paths (ctest above covered `cmake --install` and the man page): the Debian package,
# the container image and the DaemonSet. They install a package / build an image on this
# machine, which CI may do (a disposable machine, root); each cleans up after itself.
log "install: Debian package (scripts/package.sh + lintian), dpkg -i, doctor and demo, dpkg -r"
deb=$("$CONNRESET_ROOT/scripts/package.sh")
"$CONNRESET_ROOT/tests/install/deb_test.sh" "$deb"
log "install: container image (podman build; its entry point in a chroot of the image)"
"$CONNRESET_ROOT/tests/install/container_test.sh" "$CONNRESET_BUILD/connreset-portable"
log "install: DaemonSet (capabilities on this kernel, 6.12 and 5.10; host mounts)"
# 6.12: fentry and kprobes; 5.10: kprobes with the capabilities of linux-5.10.patch.yaml (no
# CAP_BPF/CAP_PERFMON there: SYS_ADMIN, and SYS_RESOURCE for the memlock rlimit). ~40 s each.
caps_vm="6.12 5.10"
[ "${CONNRESET_SKIP_VMTEST:-0}" = 1 ] && caps_vm=""
# shellcheck disable=SC2086 # a word, or none
"$CONNRESET_ROOT/tests/install/daemonset_test.sh" "$CONNRESET_BUILD/connreset-portable" $caps_vm

# benchmarks are not timed tests: only check that the bench runs briefly and prints every row
if [ "${CONNRESET_SKIP_BENCH:-0}" != 1 ]; then
  log "bench: scripts/bench.sh --quick prints every row"
  CONNRESET_BENCH_SKIP_SETUP=1 "$CONNRESET_ROOT/scripts/bench.sh" --quick >"$CONNRESET_BUILD/bench-quick.txt"
  python3 "$CONNRESET_ROOT/tests/bench/check_rows.py" "$CONNRESET_BUILD/bench-quick.txt"
fi

# libFuzzer on the journal reader: a separate clang build, bounded run time.
fuzz_build="$CONNRESET_BUILD-fuzz"
log "fuzz: journal reader for ${CONNRESET_FUZZ_SECONDS:-30} s (clang, ASan+UBSan; build in $fuzz_build)"
if [ ! -f "$fuzz_build/build.ninja" ]; then
  cmake -S "$CONNRESET_ROOT" -B "$fuzz_build" -G Ninja -DCMAKE_C_COMPILER=clang \
    -DCMAKE_CXX_COMPILER=clang++ -DCONNRESET_FUZZ=ON -DCONNRESET_BENCH=OFF >/dev/null \
    || die "cmake configure of the fuzz build failed"
fi
cmake --build "$fuzz_build" --target journal_reader_fuzz >"$fuzz_build.log" 2>&1 \
  || { tail -n 40 "$fuzz_build.log" >&2; die "fuzz build failed (log: $fuzz_build.log)"; }
fuzz_work=$(mktemp -d)
# new inputs go to a scratch corpus; the seeds in tests/fuzz/corpus stay as committed
"$fuzz_build/tests/fuzz/journal_reader_fuzz" -max_total_time="${CONNRESET_FUZZ_SECONDS:-30}" \
  -timeout=5 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$fuzz_work/" \
  "$fuzz_work" "$CONNRESET_ROOT/tests/fuzz/corpus" 2>"$fuzz_work.log" \
  || { tail -n 60 "$fuzz_work.log" >&2; die "fuzzer found a crash (inputs in $fuzz_work)"; }
grep -E 'stat::(number_of_executed_units|average_exec_per_sec)' "$fuzz_work.log" >&2 || true
rm -rf "$fuzz_work" "$fuzz_work.log"

if [ "${CONNRESET_SKIP_VMTEST:-0}" = 1 ]; then
  log "CONNRESET_SKIP_VMTEST=1: VM kernels not tested"
elif [ -x "$CONNRESET_ROOT/scripts/vmtest.sh" ]; then
  # the e2e suite in the VMs spawns the static connreset-portable (one file, any distribution)
  CONNRESET_VM_PORTABLE=require "$CONNRESET_ROOT/scripts/vmtest.sh"
fi
