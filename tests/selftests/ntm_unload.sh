#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# ntm_unload.sh - teardown under load.  With iperf3 running through the
# tunnel, A's ntmd is killed (SIGKILL: no orderly detach) and A's link
# deleted; B's ntmd is killed too but B's link is left for the module
# unload to remove; `modprobe -r ntm` is retried until it succeeds.  The
# kernel log must stay clean (the runner checks it), and the module loads
# again and carries traffic.  Run it last: it unloads the module.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib/ktap.sh"
. "$HERE/lib/topo.sh"

ktap_plan 9
topo_need_ntm

topo_setup_or_bail
topo_tunnel_pair chacha20-poly1305 4 || ktap_bail "tunnel setup failed"
topo_wait 10 topo_ping "$NS_A" 4 -c1 -W2 || ktap_bail "no ping through the tunnel"
topo_iperf_server "$NS_B" || ktap_bail "iperf3 server did not start"
ktap_ok "setup: tunnel passes traffic"
T=$(topo_tmpdir)
topo_dmesg_mark "ntm_unload: start"

# Traffic in both directions for the whole teardown.
topo_bg "$NS_A" "$T/iperf-up.json" iperf3 -c $VIP4_B -t 30 -J
IPERF_PID=$TOPO_LAST_PID
topo_bg "$NS_A" "$T/ping.out" ping -n -i 0.05 -W 1 -c 400 $VIP6_B
PING_PID=$TOPO_LAST_PID
sleep 3
kill -0 "$IPERF_PID" 2>/dev/null
ktap_result "iperf3 is running through the tunnel" $?

pa=$(topo_ntmd_pid "$NS_A")
pb=$(topo_ntmd_pid "$NS_B")
kill -KILL "$pa" 2>/dev/null
ktap_result "A's ntmd killed with SIGKILL under load" $?
sleep 1
A ip link del $NTM_DEV
ktap_result "A's ntm0 deleted under load" $?
kill -KILL "$pb" 2>/dev/null
wait "$pa" "$pb" 2>/dev/null
sleep 1

# B's ntm0 still exists (and holds no socket now); rmmod must remove it.
B ip link show $NTM_DEV >/dev/null 2>&1 && ktap_diag "B's ntm0 is still there for the unload to remove"
ok=1
for i in $(seq 60); do
	if modprobe -r ntm 2>"$T/rmmod.err"; then
		ok=0
		break
	fi
	sleep 0.5
done
ktap_diag "modprobe -r after $i attempts: $(cat "$T/rmmod.err")"
[ $ok -ne 0 ] && ktap_diag "lsmod: $(lsmod | grep -w ntm)"
ktap_result "modprobe -r ntm succeeds while traffic is still being sent" $ok
! grep -qw '^ntm' /proc/modules && ! B ip link show $NTM_DEV >/dev/null 2>&1
ktap_result "module gone and B's ntm0 removed with it" $?

topo_kill "$IPERF_PID"
topo_kill "$PING_PID"
topo_dmesg_mark "ntm_unload: unloaded"

# Load again and build everything anew.
modprobe ntm
ktap_result "module loads again" $?
if topo_ntm_up && topo_tunnel_pair aes-gcm 6 && topo_wait 10 topo_ping "$NS_A" 4 -c1 -W2; then
	ktap_ok "new ntmd, devices and tunnel work after the reload"
else
	ktap_fail "new ntmd, devices and tunnel work after the reload"
fi
# Unload again with live devices and sockets held by ntmd: the module must
# refuse or clean up, never crash; orderly stop of ntmd first (SIGTERM).
for ns in "$NS_A" "$NS_B"; do topo_kill "$(topo_ntmd_pid "$ns")" TERM; done
ok=1
for i in $(seq 40); do
	if modprobe -r ntm 2>/dev/null; then ok=0; break; fi
	sleep 0.5
done
modprobe ntm
ktap_result "after an orderly ntmd stop the module unloads and loads again" $ok

ktap_finish
