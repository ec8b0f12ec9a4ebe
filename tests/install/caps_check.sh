#!/bin/sh
# Which of CAPS connreset needs on this kernel: `connreset doctor` (which loads and attaches every
# program of the plan) with exactly CAPS, then with each one left out. Root with a reduced
# bounding set and no_new_privs is what a container with `capabilities: {drop: [ALL], add: CAPS}`
# and allowPrivilegeEscalation: false gets. Runs on the host and in VMs (busybox + setpriv).
#   caps_check.sh CONNRESET CAPS        CAPS: bpf,perfmon,sys_resource
# Prints "CAPCHECK <kernel> all ok|FAILED" and "CAPCHECK <kernel> -<cap> needed|unneeded".
bin=$1 caps=$2
k=$(uname -r)
doctor() { # bounding set "+a,+b"
	setpriv --no-new-privs --inh-caps=-all --ambient-caps=-all --bounding-set="-all$1" -- \
		"$bin" doctor >/tmp/caps_check.out 2>&1
}
all=""
for c in $(echo "$caps" | tr ',' ' '); do all="$all,+$c"; done
if doctor "$all"; then
	echo "CAPCHECK $k all ok"
else
	echo "CAPCHECK $k all FAILED"
	cat /tmp/caps_check.out
fi
for c in $(echo "$caps" | tr ',' ' '); do
	less=""
	for o in $(echo "$caps" | tr ',' ' '); do [ "$o" = "$c" ] || less="$less,+$o"; done
	if doctor "$less"; then
		echo "CAPCHECK $k -$c unneeded"
	else
		echo "CAPCHECK $k -$c needed: $(grep -E 'missing|FAILED|EPERM|Operation not permitted|memlock' /tmp/caps_check.out | head -n 2 | tr '\n' ' ')"
	fi
done
