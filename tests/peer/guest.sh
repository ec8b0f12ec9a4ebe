#!/bin/sh
# PID 1's program in the peer guest (scripts/vm/run-in-vm.sh with CONNRESET_VM_NET): give
# eth0 the peer's addresses and run the peer program until the test says "quit".
# Environment (CONNRESET_VM_ENV): PEER_BIN, PEER_V4, PEER_V6 (addresses with prefix length),
# PEER_PORT (control port).
set -e
# no duplicate address detection: the tap's other end is the test, and DAD would hold the
# IPv6 address back for a second or more
echo 0 >/proc/sys/net/ipv6/conf/all/accept_dad
echo 0 >/proc/sys/net/ipv6/conf/default/accept_dad
[ -e /proc/sys/net/ipv6/conf/eth0 ] && echo 0 >/proc/sys/net/ipv6/conf/eth0/accept_dad
ip link set eth0 up
ip addr add "$PEER_V4" dev eth0
ip -6 addr add "$PEER_V6" dev eth0 nodad
echo "peer-guest: $(uname -r), eth0 up"
exec "$PEER_BIN" "$PEER_PORT"
