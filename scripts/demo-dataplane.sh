#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# scripts/demo-dataplane.sh - a narrated demonstration of ntm's data plane
# alone, without signalling; runs INSIDE the VM:
#
#	scripts/vm -- scripts/demo-dataplane.sh
#
# (make demo runs scripts/demo.sh, the signalling demo.)  Two hosts
# (network namespaces A and B) on one underlay network; ntmd in each holds
# the UDP sockets and hands them to ntm.ko; a manually keyed tunnel joins
# their virtual addresses; ping and iperf3 run through it; the kernel's
# counters are shown with ntmctl.  Exit status 0 when every step worked.
# NTM_DEMO_CIPHER (chacha20-poly1305 | aes-gcm), NTM_DEMO_OUTER (4 | 6) and
# NTM_DEMO_PAUSE (seconds between steps, 0) change the show.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
export NTM_REPO=$REPO
TOPO_ID=demo
. "$REPO/tests/selftests/lib/topo.sh"

CIPHER=${NTM_DEMO_CIPHER:-chacha20-poly1305}
OUTER=${NTM_DEMO_OUTER:-4}
PAUSE=${NTM_DEMO_PAUSE:-0}
FAILED=0
STEP=0
T0=$(date +%s)

if [ -t 1 ]; then B_=$'\e[1m' D_=$'\e[2m' G_=$'\e[32m' R_=$'\e[31m' N_=$'\e[0m'; else B_= D_= G_= R_= N_=; fi

step() {
	STEP=$((STEP + 1))
	printf '\n%s== %d. %s%s\n' "$B_" "$STEP" "$*" "$N_"
	[ "$PAUSE" != 0 ] && sleep "$PAUSE"
	return 0
}
say() { printf '   %s\n' "$*"; }
# run WHO CMD...: show the command as typed on host WHO (A, B or vm), run it
run() {
	local who=$1 rc
	shift
	printf '%s   [%s]$ %s%s\n' "$D_" "$who" "$*" "$N_"
	case $who in
	A) A "$@" 2>&1 | sed 's/^/     /' ;;
	B) B "$@" 2>&1 | sed 's/^/     /' ;;
	*) "$@" 2>&1 | sed 's/^/     /' ;;
	esac
	rc=${PIPESTATUS[0]}
	[ $rc -ne 0 ] && { printf '   %sexit status %d%s\n' "$R_" $rc "$N_"; FAILED=$((FAILED + 1)); }
	return $rc
}
ok() { printf '   %s✔ %s%s\n' "$G_" "$*" "$N_"; }
bad() { printf '   %s✘ %s%s\n' "$R_" "$*" "$N_"; FAILED=$((FAILED + 1)); }
fatal() { bad "$*"; printf '\ndemo aborted\n'; exit 1; }

topo_trap

# -------------------------------------------------------------------------
step "The machine"
say "A qemu VM running Debian's kernel; the build machine's root file system is"
say "shared read-only, so the freshly built module and tools are used as they are."
run vm uname -sr
say "$(nproc) CPUs, $(awk '/MemTotal/ { printf "%d MiB", $2 / 1024 }' /proc/meminfo) of memory"

step "Load the ntm kernel module"
run vm modprobe ntm || fatal "ntm.ko does not load (make kmod)"
run vm sh -c "modinfo -F description ntm; lsmod | grep -w '^ntm'"
say "It registers the link kind 'ntm' and the generic netlink family 'ntm'."
[ -x "$NTMCTL" ] && [ -x "$NTMD" ] || fatal "ntmctl/ntmd not found in $NTM_BIN (make ctld)"

step "Two hosts on one network"
say "Host A and host B are network namespaces joined by a switch (a bridge):"
say "   A  $UL4_A / $UL6_A        B  $UL4_B / $UL6_B"
topo_init bridge || fatal "could not build the underlay"
run A ip -br addr show vA
run B ip -br addr show vB
run A ping -c 2 -i 0.2 $UL4_B >/dev/null && ok "A reaches B on the underlay"

step "Start ntmd on each host"
say "ntmd creates ntm0, opens the UDP sockets (IPv4 and IPv6, port $NTM_PORT) and"
say "hands them to the kernel; data messages are handled in the kernel from then on."
printf '%s   [A]$ %s --interface ntm0 --port %s --create &%s\n' "$D_" "$NTMD" $NTM_PORT "$N_"
topo_ntmd "$NS_A" || fatal "ntmd did not start in A"
printf '%s   [B]$ %s --interface ntm0 --port %s --create &%s\n' "$D_" "$NTMD" $NTM_PORT "$N_"
topo_ntmd "$NS_B" || fatal "ntmd did not start in B"
run A "$NTMCTL" device show ntm0

step "Virtual addresses"
say "Applications use stable virtual addresses on ntm0; the real ones stay hidden."
say "   A  $VIP4_A / $VIP6_A        B  $VIP4_B / $VIP6_B"
topo_ntm_addrs "$NS_A" && topo_ntm_addrs "$NS_B" || fatal "could not configure ntm0"
run A ip -br addr show ntm0
run A ip route show dev ntm0

step "Configure the tunnel ($CIPHER over IPv$OUTER)"
say "Both sides share one key; each direction has its own nonce salt, and each side"
say "chooses the index its peer puts in the header (A: $IDX_A, B: $IDX_B)."
TUN_KEY=$(topo_hex 32)
TUN_SALT_AB=$(topo_hex 4)
TUN_SALT_BA=$(topo_hex 4)
while [ "$TUN_SALT_BA" = "$TUN_SALT_AB" ]; do TUN_SALT_BA=$(topo_hex 4); done
k="${TUN_KEY:0:8}…"
printf '%s   [A]$ ntmctl tunnel add ntm0 --local-index %s --remote-index %s --endpoint %s --vip4 %s --vip6 %s --cipher %s --key - --tx-salt %s --rx-salt %s <<<%s%s\n' \
	"$D_" $IDX_A $IDX_B "$(topo_ep $OUTER B)" $VIP4_B $VIP6_B "$CIPHER" "$TUN_SALT_AB" "$TUN_SALT_BA" "$k" "$N_"
topo_tunnel_add "$NS_A" "$CIPHER" "$OUTER" "$TUN_KEY" || fatal "tunnel add failed in A"
printf '%s   [B]$ ntmctl tunnel add ntm0 --local-index %s --remote-index %s --endpoint %s --vip4 %s --vip6 %s --cipher %s --key - --tx-salt %s --rx-salt %s <<<%s%s\n' \
	"$D_" $IDX_B $IDX_A "$(topo_ep $OUTER A)" $VIP4_A $VIP6_A "$CIPHER" "$TUN_SALT_BA" "$TUN_SALT_AB" "$k" "$N_"
topo_tunnel_add "$NS_B" "$CIPHER" "$OUTER" "$TUN_KEY" || fatal "tunnel add failed in B"
run A "$NTMCTL" tunnel show ntm0
say "(keys are write-only: the kernel never reports them)"

step "Ping through the tunnel"
topo_wait 10 topo_ping "$NS_A" 4 -c1 -W2
PING4=$(A ping -n -c 5 -i 0.2 $VIP4_B 2>&1)
printf '%s\n' "$PING4" | sed 's/^/     /' | tail -n 3
printf '%s\n' "$PING4" | grep -q ' 0% packet loss' && ok "IPv4 inside: 5 of 5" || bad "IPv4 ping through the tunnel"
PING6=$(A ping -6 -n -c 5 -i 0.2 $VIP6_B 2>&1)
printf '%s\n' "$PING6" | sed 's/^/     /' | tail -n 3
printf '%s\n' "$PING6" | grep -q ' 0% packet loss' && ok "IPv6 inside: 5 of 5" || bad "IPv6 ping through the tunnel"
RTT=$(printf '%s\n' "$PING4" | sed -n 's/.*= [0-9.]*\/\([0-9.]*\)\/.*/\1/p')

step "What the wire sees"
say "On the underlay only UDP to port $NTM_PORT: a 16-byte header (type 1, receiver"
say "index, counter) and ciphertext; the inner addresses are not visible."
cap=$(topo_tmpdir)/demo.pcap
if topo_capture_start "$NS_B" vB "$cap" "udp port $NTM_PORT"; then
	A ping -n -c 1 $VIP4_B >/dev/null 2>&1
	topo_capture_stop
	B tcpdump -n -r "$cap" -c 2 -X 2>/dev/null | head -n 8 | sed 's/^/     /'
fi

step "Bulk transfer with iperf3"
topo_iperf_server "$NS_B"
f=$(topo_tmpdir)/demo-iperf.json
printf '%s   [A]$ iperf3 -c %s -t 3%s\n' "$D_" $VIP4_B "$N_"
topo_iperf "$NS_A" $VIP4_B "$f" -t 3
MBPS=$("$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); print('%.1f' % (d['end']['sum_received']['bits_per_second'] / 1e6))" "$f" 2>/dev/null)
BYTES=$(iperf_bytes "$f")
if [ "${BYTES:-0}" -gt 0 ]; then
	ok "$MBPS Mbit/s TCP through the tunnel (software-emulated CPU: compare ratios, not numbers)"
else
	bad "iperf3 through the tunnel"
fi

step "The kernel's view: ntmctl show"
run A "$NTMCTL" show
run B "$NTMCTL" show

step "Summary"
field() { topo_tstat "$1" "$2"; }
printf '   %-28s %18s %18s\n' "" "host A" "host B"
for row in "endpoint:endpoint" "cipher:cipher" "tx packets:stats.tx_packets" "rx packets:stats.rx_packets" \
	"tx bytes (inner):stats.tx_bytes" "rx bytes (inner):stats.rx_bytes" "drop auth:stats.drop_auth" \
	"drop replay:stats.drop_replay" "tx counter:tx_counter"; do
	printf '   %-28s %18s %18s\n' "${row%%:*}" "$(field "$NS_A" "${row#*:}")" "$(field "$NS_B" "${row#*:}")"
done
printf '   %-28s %16s\n' "ntm0 MTU" "$(A cat /sys/class/net/ntm0/mtu)"
printf '   %-28s %16s\n' "ping RTT avg (ms)" "${RTT:--}"
printf '   %-28s %16s\n' "iperf3 TCP (Mbit/s)" "${MBPS:--}"
printf '   %-28s %16s\n' "demo time (s)" "$(($(date +%s) - T0))"
echo
if [ "$FAILED" -eq 0 ]; then
	printf '%sdemo complete: every step worked%s\n' "$G_" "$N_"
	exit 0
fi
printf '%sdemo complete with %d failed step(s)%s\n' "$R_" "$FAILED" "$N_"
exit 1
