#!/bin/sh
# Which of CAPS connreset needs on this kernel: the DaemonSet's command (record, which attaches,
# then drops to its --user under seccomp and runs until SIGTERM) with exactly CAPS, then with each
# one left out. Root with a reduced bounding set and no_new_privs is what a container with
# `capabilities: {drop: [ALL], add: CAPS}` and allowPrivilegeEscalation: false gets. Runs on the
# host and in VMs (busybox + setpriv).
#   caps_check.sh CONNRESET CAPS ARGS...      CAPS: bpf,perfmon,...; ARGS: record --out DIR ...
# Prints "CAPCHECK <kernel> all ok|FAILED" and "CAPCHECK <kernel> -<cap> needed|unneeded".
bin=$1 caps=$2
shift 2
k=$(uname -r)
out=/tmp/caps_check.out
attempt() { # bounding set "+a,+b": ok = still running after attaching and dropping, exit 0 on TERM
	b=$1
	shift
	setpriv --no-new-privs --inh-caps=-all --ambient-caps=-all --bounding-set="-all$b" -- \
		"$bin" "$@" >"$out" 2>&1 &
	pid=$!
	i=0
	while [ $i -lt 30 ] && kill -0 "$pid" 2>/dev/null && ! grep -q 'journaling to' "$out"; do
		sleep 1
		i=$((i + 1))
	done
	sleep 2 # past the switch to --user and the seccomp filter
	kill -TERM "$pid" 2>/dev/null
	wait "$pid"
}
all=""
for c in $(echo "$caps" | tr ',' ' '); do all="$all,+$c"; done
if attempt "$all" "$@"; then
	echo "CAPCHECK $k all ok"
else
	echo "CAPCHECK $k all FAILED"
	cat "$out"
fi
for c in $(echo "$caps" | tr ',' ' '); do
	less=""
	for o in $(echo "$caps" | tr ',' ' '); do [ "$o" = "$c" ] || less="$less,+$o"; done
	if attempt "$less" "$@"; then
		echo "CAPCHECK $k -$c unneeded"
	else
		echo "CAPCHECK $k -$c needed: $(grep -v '^{' "$out" | tail -n 2 | tr '\n' ' ' | cut -c1-300)"
	fi
done
