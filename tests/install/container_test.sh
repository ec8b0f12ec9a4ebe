#!/usr/bin/env bash
# scripts/deploy/container/Containerfile builds with podman, and its entry point works (root):
#   container_test.sh CONNRESET_PORTABLE
# This machine's podman can build images but not run containers, so the image's filesystem is
# checked instead: `podman image mount`, copied into a scratch root (a runtime creates mount
# points the same way), /sys, /proc and /dev bound into it and the journal directory of the
# image's VOLUME bound to a scratch dir; then, chrooted there:
#   connreset doctor                 attaches (the file needs nothing the image lacks)
#   the image's ENTRYPOINT + CMD     journals and prints a meta JSON line; SIGTERM ends it cleanly
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
portable=$(realpath "$1")
image=localhost/connreset-test:$$
fail() { echo "FAIL: $*" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/connreset-image.XXXXXX")
pid="" mounted="" binds=()
cleanup() {
	[[ -z $pid ]] || kill "$pid" 2>/dev/null || true
	local b
	for ((b = ${#binds[@]} - 1; b >= 0; b--)); do umount -l "${binds[b]}" 2>/dev/null || true; done
	[[ -z $mounted ]] || podman image unmount "$image" >/dev/null 2>&1 || true
	podman rmi -f "$image" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

mkdir "$work/ctx"
strip -o "$work/ctx/connreset-portable" "$portable" # as shipped: no debug info
cp "$root/scripts/deploy/container/passwd" "$root/scripts/deploy/container/group" "$work/ctx/"
podman build -q -t "$image" -f "$root/scripts/deploy/container/Containerfile" "$work/ctx" >"$work/build.log" 2>&1 ||
	{ cat "$work/build.log" >&2; fail "podman build"; }
echo "built $image: $(podman image inspect --format '{{.Size}}' "$image") bytes"
read -r -a entry < <(podman image inspect --format '{{range .Config.Entrypoint}}{{.}} {{end}}' "$image")
read -r -a cmd < <(podman image inspect --format '{{range .Config.Cmd}}{{.}} {{end}}' "$image")
volume=$(podman image inspect --format '{{range $k, $v := .Config.Volumes}}{{$k}} {{end}}' "$image" | awk '{print $1}')
[[ ${entry[0]} == /usr/sbin/connreset && -n $volume ]] || fail "unexpected entry point ${entry[*]} / volume $volume"

mnt=$(podman image mount "$image") || fail "podman image mount"
mounted=1
files=$(cd "$mnt" && find . -type f | sort)
[[ $files == "$(printf './etc/group\n./etc/passwd\n./usr/sbin/connreset')" ]] ||
	fail "the image should hold the binary and the user database only, it holds: $files"
rootfs=$work/rootfs
mkdir -p "$rootfs"
cp -a "$mnt/." "$rootfs/"
for d in proc sys dev tmp "${volume#/}"; do mkdir -p "$rootfs/$d"; done
mkdir -p "$work/journal"
bind() { mount --rbind "$1" "$2" && binds+=("$2"); }
bind /proc "$rootfs/proc"
bind /sys "$rootfs/sys"
bind /dev "$rootfs/dev"
bind "$work/journal" "$rootfs$volume"

chroot "$rootfs" "${entry[@]}" doctor >"$work/doctor.txt" 2>&1 ||
	{ cat "$work/doctor.txt" >&2; fail "connreset doctor in the image's root"; }
grep -q '^verdict: tracing works' "$work/doctor.txt" || fail "doctor: $(cat "$work/doctor.txt")"
echo "ok: doctor in the image's root: $(grep -E '^trial load' "$work/doctor.txt")"

# The image's default command, metrics moved off the node's port (other tests may run here).
run=("${entry[@]}" "${cmd[@]}")
for i in "${!run[@]}"; do
	if [[ ${run[i]} == --metrics ]]; then run[i + 1]=127.0.0.1:0; fi
done
chroot "$rootfs" "${run[@]}" >"$work/stdout" 2>"$work/stderr" &
pid=$!
for _ in $(seq 100); do
	grep -q 'journaling to' "$work/stderr" && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.2
done
grep -q 'journaling to' "$work/stderr" || fail "the image's command did not start: $(cat "$work/stderr")"
sleep 1
kill -TERM "$pid"
wait "$pid" || fail "exit $? after SIGTERM: $(cat "$work/stderr")"
pid=""
head -n 1 "$work/stdout" | grep -q '"type":"meta"' || fail "no JSON meta line on stdout: $(head -c 500 "$work/stdout")"
ls "$work/journal"/connreset-*.journal >/dev/null 2>&1 || fail "no journal in the VOLUME"
echo "ok: ${run[*]}: JSON on stdout, journal in $volume, clean exit on SIGTERM"
echo "container: ok"
