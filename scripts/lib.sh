# shellcheck shell=bash
# Shared by the scripts: repo root, root check, dependencies, build, mounts.

CONNRESET_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CONNRESET_BUILD=${CONNRESET_BUILD:-$CONNRESET_ROOT/build}

log() { printf '[connreset] %s\n' "$*" >&2; }
die() { printf '[connreset] error: %s\n' "$*" >&2; exit 1; }

require_root() {
  [ "$(id -u)" -eq 0 ] || die "run as root (sudo $0 ...): loading BPF programs needs CAP_BPF and CAP_PERFMON"
}

# Debian packages the build, the tests and the tool need. Installed only when missing.
CONNRESET_PACKAGES=(
  cmake ninja-build g++ clang llvm pkg-config bpftool libbpf-dev libelf-dev zlib1g-dev
  libcli11-dev nlohmann-json3-dev libgtest-dev googletest libbenchmark-dev libnl-3-dev libnl-route-3-dev
  libseccomp-dev  # the seccomp filter trace/record install after attaching
  iproute2 util-linux procps
  clang-14 libclang-rt-14-dev
  bpftrace python3  # scripts/bench.sh: the outside anchor, the bench driver
  linux-perf  # scripts/bench.sh --only storm: the tracer's system calls per event (perf stat)
  nginx wrk  # scripts/bench.sh: a real service on loopback (tests/bench/service_bench.py)
  time  # scripts/bench.sh: report's own peak RSS (GNU time forks it from a small process)
  chromium  # e2e: the HTML report checked in a real (headless) browser, tests/browser/check_page.py
  # install tests (tests/install): the .deb and lintian, completion, man page, container image,
  # DaemonSet manifest and the capability/mount checks
  dpkg-dev lintian man-db groff-base zsh podman strace python3-yaml
  python3-jsonschema  # e2e: JSON lines checked against docs/schema/
)

install_deps() {
  local missing=()
  for p in "${CONNRESET_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
      || die "apt-get install ${missing[*]} failed"
  fi
}

build() {
  local type=${CONNRESET_BUILD_TYPE:-RelWithDebInfo}
  if [ ! -f "$CONNRESET_BUILD/build.ninja" ]; then
    cmake -S "$CONNRESET_ROOT" -B "$CONNRESET_BUILD" -G Ninja -DCMAKE_BUILD_TYPE="$type" >/dev/null \
      || die "cmake configure failed"
  fi
  cmake --build "$CONNRESET_BUILD" -- -j"$(nproc)" >"$CONNRESET_BUILD.log" 2>&1 || {
    tail -n 60 "$CONNRESET_BUILD.log" >&2
    die "build failed (full log: $CONNRESET_BUILD.log)"
  }
}

# bpffs and tracefs: tp_btf programs need neither, but classic tracepoints and
# bpftool do, and `doctor` reports them.
ensure_mounts() {
  mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf 2>/dev/null || true
  mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || true
}
