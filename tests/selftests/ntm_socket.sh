#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# ntm_socket.sh - adoption of the owner's UDP sockets (D76, D77).  A raw
# genetlink client (lib/socktest.py) owns A's sockets instead of ntmd, so it
# can watch them: a refused SET_DEVICE keeps the old socket attached and
# working, a swap to a socket bound to another address drops the routes of
# the old binding, a released socket is a plain UDP socket again, every
# adopted socket holds one module reference; then module unload races the
# owner closing adopted sockets, without an oops.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib/ktap.sh"
. "$HERE/lib/topo.sh"

SOCK="$PY $TOPO_LIB_DIR/socktest.py"
NCASES=$($SOCK cases 2>/dev/null || echo 0)
NRACE=5
ktap_plan $((1 + NCASES + 2))
topo_need_ntm

topo_init || ktap_bail "underlay setup failed"
UL4_A2=192.0.2.5
A ip addr add $UL4_A2/24 dev vA || ktap_bail "second address on vA failed"
A ip link add $NTM_DEV type ntm || ktap_bail "ip link add $NTM_DEV failed"
A ip link add ntm1 type ntm || ktap_bail "ip link add ntm1 failed"
topo_ntm_addrs "$NS_A" || ktap_bail "inner addresses on $NTM_DEV failed"
T=$(topo_tmpdir)
: >"$T/rx.log"
topo_bg "$NS_B" "$T/recv.out" $SOCK recv $UL4_B $NTM_PORT "$T/rx.log"
topo_wait 10 grep -q ready "$T/recv.out" || ktap_bail "peer receiver did not start"
ktap_ok "setup: $NTM_DEV and ntm1 without sockets, a plain UDP receiver at B"
topo_dmesg_mark "ntm_socket: start"

A $SOCK case $NTM_DEV ntm1 "$T/rx.log" $UL4_B $NTM_PORT $VIP4_B $UL4_A $UL4_A2 >"$T/case.out" 2>&1
# ntm2 (IPv4 socket) sends to ntm3's dual-stack IPv6 socket over IPv4
A ip link add ntm2 type ntm && A ip link add ntm3 type ntm &&
	A sysctl -qw net.ipv6.conf.ntm2.addr_gen_mode=1 net.ipv6.conf.ntm3.addr_gen_mode=1 &&
	A ip addr add 203.0.113.11/32 dev ntm2 && A ip link set ntm2 up && A ip link set ntm3 up &&
	A ip route add 203.0.113.12/32 dev ntm2 src 203.0.113.11 ||
	ktap_diag "ntm2/ntm3 setup failed"
A $SOCK mapped ntm2 ntm3 $UL4_A $UL6_A 203.0.113.12 >>"$T/case.out" 2>&1
A ip link del ntm2
A ip link del ntm3
got=0
while IFS= read -r line; do
	case $line in
	"ok "*) ktap_ok "${line#ok }"; got=$((got + 1)) ;;
	"not ok "*) ktap_fail "${line#not ok }"; got=$((got + 1)) ;;
	*) ktap_diag "$line" ;;
	esac
done <"$T/case.out"
while [ $got -lt "$NCASES" ]; do
	ktap_fail "case $((got + 1)) did not run"
	got=$((got + 1))
done
A ip link del $NTM_DEV

# --- unload while owners close adopted sockets (D77) --------------------------
# The module reference of each adopted socket keeps modprobe -r from
# succeeding before the owner's close (encap_destroy) has left module code.
refused=0
for i in $(seq $NRACE); do
	modprobe ntm || break
	A ip link add ntm9 type ntm || break
	A timeout 30 $SOCK closerace ntm9 "$T/go$i" >"$T/race$i.out" 2>&1 &
	rp=$!
	topo_wait 20 grep -q "ready errno=0" "$T/race$i.out" || ktap_diag "race $i: $(cat "$T/race$i.out")"
	# while the sockets are adopted the module must stay
	modprobe -r ntm 2>/dev/null || refused=$((refused + 1))
	# then the owner closes them while unload is tried again and again
	touch "$T/go$i"
	for _ in $(seq 100); do
		modprobe -r ntm 2>/dev/null && break
		sleep 0.1
	done
	wait $rp
done
modprobe ntm
[ $refused -eq $NRACE ]
ktap_result "modprobe -r refused while sockets were adopted ($refused of $NRACE)" $?
if dmesg | sed -n '/ntm-selftest: ntm_socket: start/,$p' | grep -E 'BUG|WARNING|Oops|general protection' >"$T/dmesg.bad"; then
	ktap_diag_file "$T/dmesg.bad"
	ktap_fail "no BUG/WARNING/Oops while unloading against closing owners"
else
	ktap_ok "no BUG/WARNING/Oops while unloading against closing owners"
fi
ktap_finish
