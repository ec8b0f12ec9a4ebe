#!/usr/bin/env bash
# scripts/deploy/kubernetes/connreset-daemonset.yaml asks for no more than connreset needs, and enough:
#   daemonset_test.sh CONNRESET [VM_KERNEL...]        (root)
# 1. the YAML parses and has the expected shape (tests/install/manifest.py);
# 2. `connreset <the manifest's args>` run as root with exactly the manifest's capabilities and
#    no_new_privs, in a pid namespace of its own as in a pod without hostPID, attaches, explains
#    a real loopback reset between processes of a fake pod (a kubepods cgroup under the host's
#    cgroup v2 tree, the kubelet's log layout) as a JSON line on stdout naming that pod and
#    container, and writes a journal (the journal dir, pod logs and metrics address are moved to
#    scratch ones);
# 3. the capabilities are enough, and each is needed, on this kernel and each VM_KERNEL (for 5.10
#    those of linux-5.10.patch.yaml), through tests/install/caps_check.sh;
# 4. each host mount is a path connreset opens (strace of run 2), and every file it opened
#    outside /proc, /sys and /dev is under one of the mounts (a FROM scratch image has no other).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=$(realpath "$1")
shift
vm_kernels=("$@")
manifest=$root/scripts/deploy/kubernetes/connreset-daemonset.yaml
fail() { echo "FAIL: $*" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/connreset-ds.XXXXXX")
pid=""
cgdirs=() # fake pod cgroups made here, deepest last
cleanup() {
	[[ -z $pid ]] || kill "$pid" 2>/dev/null || true
	local i
	for ((i = ${#cgdirs[@]} - 1; i >= 0; i--)); do rmdir "${cgdirs[i]}" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

eval "$(python3 "$here/manifest.py" "$manifest")" || fail "manifest check"
echo "manifest: caps $CAPS; host mounts $MOUNTS; args $ARGS"

# --- 2. run the manifest's command with exactly its capabilities, under strace -------------
read -r -a args <<<"$ARGS"
journal_dir="" pod_logs=""
for i in "${!args[@]}"; do
	case ${args[i]} in
	--out) journal_dir=${args[i + 1]}; args[i + 1]=$work/journal ;;
	--pod-logs) pod_logs=${args[i + 1]}; args[i + 1]=$work/log/pods ;;
	--metrics) args[i + 1]=127.0.0.1:0 ;; # not the node's port: other tests may run here
	esac
done
[[ -n $pod_logs ]] || fail "the manifest's args lack --pod-logs (pods and containers would be null)"
# Where each of the manifest's container paths is in this test (the rest: the host's own).
host_path() {
	case $1 in
	"$journal_dir") echo "$work/journal" ;;
	"$pod_logs") echo "$work/log/pods" ;;
	"$(dirname "$pod_logs")/containers") echo "$work/log/containers" ;; # the kubelet's symlinks
	*) echo "$1" ;;
	esac
}
# A fake pod, as the kubelet and containerd (cgroupfs driver) lay it out: a cgroup
# kubepods/besteffort/pod<uid>/<container id> in the host's v2 tree, /var/log/pods/<ns>_<pod>_<uid>/
# <container>/ and /var/log/containers/<pod>_<ns>_<container>-<id>.log.
cg2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
[[ -n $cg2 ]] || fail "no cgroup2 hierarchy mounted on this host"
uid=$(cat /proc/sys/kernel/random/uuid)
cid=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
for d in "$cg2/kubepods" "$cg2/kubepods/besteffort" "$cg2/kubepods/besteffort/pod$uid" "$cg2/kubepods/besteffort/pod$uid/$cid"; do
	if mkdir "$d" 2>/dev/null; then cgdirs+=("$d"); else [[ -d $d ]] || fail "cannot create cgroup $d"; fi
done
mkdir -p "$work/log/pods/shop_cart_$uid/server" "$work/log/containers"
: >"$work/log/pods/shop_cart_$uid/server/0.log"
ln -s "../pods/shop_cart_$uid/server/0.log" "$work/log/containers/cart_shop_server-$cid.log"
chmod -R a+rX "$work/log" # as on a node: names readable after connreset drops its privileges
chmod a+x "$work"
bounding=-all
for c in ${CAPS//,/ }; do bounding+=",+$c"; done
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# unshare: a pid namespace of its own (and its /proc), as a pod without hostPID has
strace -f -qq -o "$work/strace" -e trace=execve,open,openat,openat2,stat,newfstatat,statx,access,faccessat2,mkdir,mkdirat \
	unshare --pid --fork --mount-proc \
	setpriv --no-new-privs --inh-caps=-all --ambient-caps=-all --bounding-set="$bounding" -- \
	"$bin" "${args[@]}" >"$work/stdout" 2>"$work/stderr" &
pid=$!
for _ in $(seq 100); do
	grep -q 'journaling to' "$work/stderr" && break
	kill -0 "$pid" 2>/dev/null || fail "connreset exited with caps $CAPS: $(cat "$work/stderr")"
	sleep 0.2
done
grep -q 'journaling to' "$work/stderr" || fail "connreset did not start: $(cat "$work/stderr")"
# A reset on loopback inside the fake pod: the server closes with the request unread
# (unread_data_at_close).
python3 - "$port" "$cg2/kubepods/besteffort/pod$uid/$cid/cgroup.procs" <<'PY'
import os, socket, sys, time
with open(sys.argv[2], "w") as f:  # into the pod's cgroup first
    f.write(str(os.getpid()))
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", int(sys.argv[1]))); srv.listen(1)
cli = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
conn, _ = srv.accept()
cli.sendall(b"x" * 1000)
time.sleep(0.2)
conn.close()  # 1000 unread bytes: RST
try:
    cli.recv(10)
except ConnectionResetError:
    pass
PY
found=""
for _ in $(seq 50); do
	if grep -q "\"port\":$port\b" "$work/stdout" && grep "\"port\":$port\b" "$work/stdout" | grep -q '"cause":"unread_data_at_close"'; then
		found=1
		break
	fi
	sleep 0.2
done
# connreset: the child of unshare's child (strace -> unshare -> unshare --fork -> connreset)
kill -TERM "$(pgrep -P "$(pgrep -P "$pid" | head -n 1)" | head -n 1)" 2>/dev/null || true
wait "$pid" || fail "connreset record exited $? on SIGTERM: $(cat "$work/stderr")"
pid=""
[[ -n $found ]] || fail "no unread_data_at_close reset for port $port on stdout; stdout: $(head -c 2000 "$work/stdout")"
ls "$work/journal"/connreset-*.journal >/dev/null || fail "no journal written"
grep -q 'could not drop privileges' "$work/stderr" && fail "$(cat "$work/stderr")"
echo "ok: record with exactly $CAPS attached, explained the reset on stdout, wrote $(ls "$work/journal" | wc -l) journal file(s)"
# the pod and container named from the host's cgroup tree and the pod logs, without hostPID
line=$(grep "\"port\":$port\b" "$work/stdout" | grep '"cause":"unread_data_at_close"' | head -n 1)
python3 - "$line" "$uid" "$cid" <<'PY' || fail "the reset does not name the fake pod: $line"
import json, sys
r, uid, cid = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
for party in ("sender", "receiver"):
    p = r[party]
    assert p["pod"] == {"namespace": "shop", "name": "cart", "uid": uid}, (party, p.get("pod"))
    assert p["container"]["id"] == cid and p["container"]["name"] == "server", (party, p.get("container"))
PY
echo "ok: sender and receiver named pod shop/cart, container server, in a pid namespace of their own"

# --- 3. each capability is needed somewhere -----------------------------------------------------
# The manifest's capabilities on this kernel and in the VMs of VM_KERNELS; for 5.10 those of
# linux-5.10.patch.yaml. Each listed capability must be needed on some kernel: one that is never
# needed is not least privilege.
# the manifest's command, journal and metrics moved to scratch places (also inside the VMs)
caps_args=("${args[@]}")
for i in "${!caps_args[@]}"; do
	if [[ ${caps_args[i]} == --out ]]; then caps_args[i + 1]=/tmp/caps_check.journal; fi
done
"$here/caps_check.sh" "$bin" "$CAPS" "${caps_args[@]}" | tee "$work/caps"
for k in "${vm_kernels[@]}"; do
	caps=$CAPS
	[[ $k == 5.10 ]] && caps=$CAPS_510
	CONNRESET_VM_TOOLS="setpriv" CONNRESET_VM_EXTRA="$bin" \
		"$root/scripts/vm/run-in-vm.sh" "$k" -- "$here/caps_check.sh" "$bin" "$caps" "${caps_args[@]}" \
		>"$work/vm.log" 2>&1 || { tail -n 30 "$work/vm.log" >&2; fail "caps_check in the $k VM"; }
	grep -a '^CAPCHECK' "$work/vm.log" | tee -a "$work/caps"
done
grep -q ' all FAILED' "$work/caps" && fail "connreset doctor failed with the manifest's capabilities (see above)"
listed=$CAPS
[[ " ${vm_kernels[*]} " == *" 5.10 "* ]] && listed=$CAPS_510
for c in ${listed//,/ }; do
	grep -q -- " -$c needed" "$work/caps" ||
		fail "capability $c is not needed on any kernel tested (host ${vm_kernels[*]}): drop it from $manifest or linux-5.10.patch.yaml"
done

# --- 4. mounts: used, and sufficient ------------------------------------------------------------
# Paths the program (not setpriv) named: everything after its execve.
paths=$(awk -v bin="$bin" 'index($0, "execve(\"" bin "\"") { on = 1 } on' "$work/strace" |
	sed -nE 's/.*(open|openat|openat2|stat|newfstatat|statx|access|faccessat2|mkdir|mkdirat)\((AT_FDCWD, |[0-9]+, )?"([^"]*)".*/\3/p' | sort -u)
for m in $MOUNTS; do
	host_m=$(host_path "$m")
	grep -q "^$host_m\(/\|$\)" <<<"$paths" ||
		fail "host mount $m is listed in the manifest but connreset never opened a path under it"
	echo "ok: mount $m is used: $(grep "^$host_m\(/\|$\)" <<<"$paths" | head -n 2 | tr '\n' ' ')"
done
# Successful opens of real files outside what a container always has (/proc /sys /dev) and the
# mounts: none may be left (the image holds only the binary). Failed attempts (ENOENT) are fine.
opened=$(awk -v bin="$bin" 'index($0, "execve(\"" bin "\"") { on = 1 } on' "$work/strace" |
	grep -vE '= -1 E' | sed -nE 's/.*(open|openat|openat2)\((AT_FDCWD, |[0-9]+, )?"([^"]*)".*/\3/p' | sort -u)
while read -r p; do
	case $p in
	/sys/fs/cgroup | /sys/fs/cgroup/*) ;; # a pod's own is its cgroup namespace's, not the node's tree
	"" | /proc/* | /sys/* | /dev/* | "$bin") continue ;;
	esac
	# relative to a directory handle opened by its absolute path (checked on its own line)
	[[ $p == /* ]] || continue
	# in the image (scripts/deploy/container/Containerfile COPYs them): the user database for --user
	[[ $p == /etc/passwd || $p == /etc/group ]] && continue
	# optional: without it glibc uses UTC, which is what a node's log pipeline expects anyway
	[[ $p == /etc/localtime ]] && continue
	# optional: without it glibc looks users up in the files, which is what the image has
	[[ $p == /etc/nsswitch.conf ]] && continue
	covered=""
	for m in $MOUNTS; do
		host_m=$(host_path "$m")
		[[ $p == "$host_m" || $p == "$host_m"/* ]] && covered=1
	done
	[[ -n $covered ]] || fail "connreset opened $p, which the image lacks and the manifest does not mount"
done <<<"$opened"
echo "daemonset: ok"
