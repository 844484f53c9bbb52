#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# ntm_roaming.sh - endpoint roaming.  While B pings A through the tunnel,
# B's underlay address changes (192.0.2.2 -> 192.0.2.3), later B moves
# behind a NAT router (source becomes 192.0.2.254:random port).  A's tunnel
# endpoint follows each move, "roamed" grows, `ntmctl -j monitor` reports an
# endpoint event, and traffic continues.  When B's source flips back and
# forth several times a second, the endpoint still follows every flip but
# endpoint events come at most once per NTM_ROAM_EVENT_INTERVAL_MS (the
# rest counted in roam_event_suppressed), and the last one names the final
# endpoint.  With roaming off (per tunnel) the
# endpoint stays where it was.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib/ktap.sh"
. "$HERE/lib/topo.sh"

ktap_plan 15
topo_need_ntm

topo_init bridge || ktap_bail "underlay setup failed"
topo_nat_init || ktap_bail "NAT router setup failed"
topo_ntm_up || ktap_bail "ntmd setup failed"
topo_tunnel_pair chacha20-poly1305 4 || ktap_bail "tunnel setup failed"
topo_wait 10 topo_ping "$NS_B" 4 -c1 -W2 || ktap_bail "no ping through the tunnel"
ktap_ok "setup: A, B and NAT router R; tunnel passes traffic"

tstat() { num "$(topo_tstat "$1" "$2")"; }
T=$(topo_tmpdir)

ep0=$(topo_tstat "$NS_A" endpoint)
ktap_diag "A's endpoint for B: $ep0"
ktap_result "A's endpoint is B's first address" $([ "$ep0" = "$UL4_B:$NTM_PORT" ] && echo 0 || echo 1)

# monitor_start NAME: ntmctl -j monitor in A; monitor_events NAME TYPE
monitor_start() {
	topo_bg "$NS_A" "$T/$1.events" "$NTMCTL" -j monitor --timeout 60
	eval "MON_$1=$TOPO_LAST_PID"
	sleep 1 # let it subscribe
}
monitor_stop() { eval "topo_kill \$MON_$1 TERM"; }

# pinger: B pings A through the tunnel for the whole move
pinger_start() {
	topo_bg "$NS_B" "$T/$1.ping" ping -n -i 0.2 -W 1 -c "$2" $VIP4_A
	PING_PID=$TOPO_LAST_PID
}
ping_received_after() { # FILE SEQ: some reply with icmp_seq > SEQ arrived
	awk -v s="$2" 'match($0, /icmp_seq=[0-9]+/) { q = substr($0, RSTART + 9, RLENGTH - 9) + 0; if (q > s) found = 1 } END { exit !found }' "$1"
}

# --- move 1: new address ------------------------------------------------------
roamed0=$(tstat "$NS_A" stats.roamed)
monitor_start move1
pinger_start move1 60
sleep 2
topo_b_readdress || ktap_diag "readdress failed"
ktap_diag "B moved to $UL4_B2 at icmp_seq ~10"
# a_ep_is ENDPOINT / a_ep_in HOST: A's endpoint for B is ENDPOINT / on HOST
a_ep_is() { [ "$(topo_tstat "$NS_A" endpoint)" = "$1" ]; }
a_ep_in() { topo_tstat "$NS_A" endpoint | grep -q "^$1:"; }
topo_wait 15 a_ep_is "$UL4_B2:$NTM_PORT"
ep1=$(topo_tstat "$NS_A" endpoint)
ktap_diag "A's endpoint for B now: $ep1"
ktap_result "address change: A's endpoint moved to $UL4_B2:$NTM_PORT" \
	$([ "$ep1" = "$UL4_B2:$NTM_PORT" ] && echo 0 || echo 1)
roamed1=$(tstat "$NS_A" stats.roamed)
ktap_result "address change: roamed counter grew ($roamed0 -> $roamed1)" \
	$([ "$roamed1" -gt "$roamed0" ] && echo 0 || echo 1)
sleep 3
wait "$PING_PID" 2>/dev/null
monitor_stop move1
n=$($NTMJSON events "$T/move1.events" endpoint)
ktap_diag "monitor: $(head -c 600 "$T/move1.events")"
ktap_result "address change: endpoint event reported by ntmctl monitor ($n)" $([ "$n" -ge 1 ] && echo 0 || echo 1)
ev=$($NTMJSON event "$T/move1.events" endpoint endpoint)
ktap_result "address change: the event names the new endpoint ($ev)" \
	$(printf '%s' "$ev" | grep -q "$UL4_B2" && echo 0 || echo 1)
ktap_result "address change: pings continued after the move" \
	$(ping_received_after "$T/move1.ping" 25 && echo 0 || echo 1)

# --- rapid flips: endpoint events are rate-limited per tunnel -------------------
# B toggles its source between $UL4_B2 (primary) and $UL4_B (secondary)
# 24 times, every ~0.2 s, through a host route's preferred
# source, under a 20 pps ping from B: every flip moves A's endpoint.  The
# kernel sends at most one endpoint event per second per tunnel, so the
# events must be fewer than the moves and no more than the seconds the
# monitor ran plus one.  Without the limit every move is an event.
dstat() { num "$(topo_dstat "$1" "$2")"; }
B ip addr add $UL4_B/24 dev vB || ktap_diag "adding $UL4_B back failed"
roamedf0=$(tstat "$NS_A" stats.roamed)
sup0=$(dstat "$NS_A" stats.roam_event_suppressed)
tsup0=$(num "$(tstat "$NS_A" stats.roam_event_suppressed)")
mon0=$(cut -d' ' -f1 /proc/uptime)
monitor_start flips
topo_bg "$NS_B" "$T/flips.ping" ping -n -i 0.05 -W 1 -c 1000 $VIP4_A
PING_PID=$TOPO_LAST_PID
sleep 1
# one ip process reads the commands; read -t sleeps without a fork, so the
# flips keep their pace on a loaded machine
B bash -c "exec 8> >(ip -batch -); exec 9<> <(:)
	for i in \$(seq 1 24); do
		if [ \$((i % 2)) -eq 1 ]; then s=$UL4_B; else s=$UL4_B2; fi
		echo \"route replace $UL4_A/32 dev vB src \$s\" >&8
		read -r -t 0.2 -u 9
	done
	echo \"route del $UL4_A/32 dev vB\" >&8
	exec 8>&-; sleep 0.5"
sleep 1.5 # past the interval, pings still going: the last move is reported
topo_kill "$PING_PID" INT
monitor_stop flips
mon1=$(cut -d' ' -f1 /proc/uptime)
roamedf1=$(tstat "$NS_A" stats.roamed)
sup1=$(dstat "$NS_A" stats.roam_event_suppressed)
tsup1=$(num "$(tstat "$NS_A" stats.roam_event_suppressed)")
nf=$($NTMJSON events "$T/flips.events" endpoint)
moves=$((roamedf1 - roamedf0))
sup=$((sup1 - sup0))
secs=$(echo "($mon1 - $mon0 + 0.999) / 1" | bc)
epf=$(topo_tstat "$NS_A" endpoint)
evf=$($NTMJSON last-event "$T/flips.events" endpoint endpoint)
ktap_diag "flips: $moves endpoint moves, $nf endpoint events in ${secs} s of monitoring, $sup suppressed; endpoint $epf, last event $evf"
ktap_result "flips: A's endpoint followed the flips (roamed +$moves)" $([ "$moves" -ge 12 ] && echo 0 || echo 1)
ktap_result "flips: endpoint events rate-limited ($nf events for $moves moves in ${secs} s, roam_event_suppressed +$sup, the tunnel's +$((tsup1 - tsup0)))" \
	$([ "$nf" -ge 1 ] && [ "$nf" -lt "$moves" ] && [ "$nf" -le $((secs + 1)) ] && [ "$sup" -ge 1 ] &&
		[ $((tsup1 - tsup0)) -eq "$sup" ] && echo 0 || echo 1)
ktap_result "flips: the last event names the final endpoint $UL4_B2:$NTM_PORT" \
	$([ "$epf" = "$UL4_B2:$NTM_PORT" ] && printf '%s' "$evf" | grep -q "$UL4_B2" && echo 0 || echo 1)
B ip addr del $UL4_B/24 dev vB

# --- move 2: behind the NAT -------------------------------------------------
roamed1=$(tstat "$NS_A" stats.roamed)
monitor_start move2
pinger_start move2 60
sleep 2
topo_b_behind_nat || ktap_diag "move behind NAT failed"
topo_wait 15 a_ep_in "$UL4_R"
ep2=$(topo_tstat "$NS_A" endpoint)
ktap_diag "A's endpoint for B behind the NAT: $ep2 (conntrack: $(R conntrack -L 2>/dev/null | head -2))"
ktap_result "NAT: A's endpoint moved to the NAT's address $UL4_R ($ep2)" \
	$(case $ep2 in "$UL4_R:"*) echo 0 ;; *) echo 1 ;; esac)
roamed2=$(tstat "$NS_A" stats.roamed)
ktap_result "NAT: roamed counter grew ($roamed1 -> $roamed2)" $([ "$roamed2" -gt "$roamed1" ] && echo 0 || echo 1)
sleep 3
wait "$PING_PID" 2>/dev/null
monitor_stop move2
n=$($NTMJSON events "$T/move2.events" endpoint)
ktap_result "NAT: endpoint event reported ($n)" $([ "$n" -ge 1 ] && echo 0 || echo 1)
ktap_result "NAT: pings continued through the NAT" \
	$(ping_received_after "$T/move2.ping" 25 && echo 0 || echo 1)

# --- roaming off: A keeps the endpoint, so B's traffic does not move it --------
nctl "$NS_A" tunnel set $NTM_DEV --local-index $IDX_A --roaming off --endpoint "$UL4_B2:$NTM_PORT" ||
	ktap_diag "tunnel set --roaming off failed"
roamed2=$(tstat "$NS_A" stats.roamed)
topo_ping "$NS_B" 4 -c 3 -i 0.3 -W 1 >/dev/null 2>&1
sleep 1
ep3=$(topo_tstat "$NS_A" endpoint)
roamed3=$(tstat "$NS_A" stats.roamed)
ktap_diag "roaming off: endpoint $ep3, roamed $roamed2 -> $roamed3"
ktap_result "roaming off: endpoint stays at $UL4_B2:$NTM_PORT though B sends from the NAT" \
	$([ "$ep3" = "$UL4_B2:$NTM_PORT" ] && [ "$roamed3" -eq "$roamed2" ] && echo 0 || echo 1)

ktap_finish
