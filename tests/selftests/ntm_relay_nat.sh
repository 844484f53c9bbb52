#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# ntm_relay_nat.sh - nodes that cannot reach each other directly connect
# through a Relay Server, then move to a direct path when hole punching
# works (Documentation/protocol/relay.rst).  Real NATs (nftables
# masquerade), two relays, real ntmd roles everywhere; lib/relaybed.sh has
# the map.  Cases: both nodes behind separate NATs (relay first, then
# direct, a TCP connection opened while relayed survives the switch, a
# broken direct path falls back to the relay); both
# behind one NAT (the LAN path); a NAT that maps per destination (direct
# fails, the relay stays, traffic flows); the relay carrying a tunnel
# vanishes under traffic (rebuilt through the other relay).
# shellcheck disable=SC2034,SC2119
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib/ktap.sh"
. "$HERE/lib/sigbed.sh"
. "$HERE/lib/steps.sh"
. "$HERE/lib/relaybed.sh"

ktap_plan 16

why=$(sigbed_missing)
if [ -n "$why" ]; then
	ktap_skip_rest "$why"
	ktap_finish
fi

num() { case $1 in '' | *[!0-9]*) echo 0 ;; *) echo "$1" ;; esac; }

D=$SB_DOMAIN
T0=$EPOCHSECONDS
# --- 1: testbed ---------------------------------------------------------------------
relaybed_setup || ktap_bail "relay testbed setup failed"
ktap_ok "testbed: AS, DC, DNS, RS1, RS2; B and E behind R, D behind R2, F behind R3 (per-destination NAT) ($((EPOCHSECONDS - T0)) s)"

# --- 2-3: servers -----------------------------------------------------------------------
sigbed_write_as_conf
sigbed_write_dc_conf "$(relaybed_dc_relays)"
relaybed_write_rs_conf rs1 $RB_RS1
relaybed_write_rs_conf rs2 $RB_RS2
SERVERS=0
sigbed_start rs1 && sigbed_start rs2 && sigbed_start dc && sigbed_start as && SERVERS=1
check "AS, DC and two relays start" $((1 - SERVERS)) rs1 rs2 dc as
RELAYS_UP=0
if needs "the DC reaches both relays over mutual TLS (Key Sharing heartbeat)" SERVERS; then
	relaybed_wait_relays 30 2 && RELAYS_UP=1
	ktap_diag "dc relays: $(sigbed_jq dc '.dc.relays' | jq -c . 2>/dev/null)"
	check "the DC reaches both relays over mutual TLS (Key Sharing heartbeat)" $((1 - RELAYS_UP)) dc rs1 rs2
fi

# --- 4: nodes -----------------------------------------------------------------------------
NODES=0
if needs "nodes B, D, E, F log in and register, each behind a NAT" RELAYS_UP; then
	rc=0
	for n in b d e f; do
		sigbed_password $n "pw $n $(sigbed_hex 4)"
		sigbed_account_add "$n@$D" "$n.$D" "$(sigbed_pwfile $n)" >/dev/null 2>&1 || rc=1
		sigbed_write_node_conf $n "$n@$D" "$(sigbed_pwfile $n)"
	done
	for n in b d e f; do sigbed_start_bg $n || rc=1; done
	for n in b d e f; do
		sigbed_wait_ready $n || rc=1
		[ "$(sigbed_node $n nated)" = true ] || rc=1
		eval "VIP4_${n^^}=\$(sigbed_node $n vip4)"
		ktap_diag "$n: $(sigbed_node $n vip4) seen from $(sigbed_node $n external_ep), nated $(sigbed_node $n nated)"
	done
	[ $rc -eq 0 ] && NODES=1
	check "nodes B, D, E, F log in and register, each behind a NAT" $rc b d e f dc
fi

# --- 5-10: two NATs: relay, then direct, then back ------------------------------------------
path_of() { relaybed_peer "$1" "$2" '.path.path'; }
BD=0
if needs "B resolves d.ntm.test: the DC relays (both NATed) and the answer is D's vip4" NODES; then
	relaybed_block_direct on
	got=$(sigbed_getent b ahostsv4 d.$D 2>&1)
	relay=$(relaybed_peer b d.$D '.path.relay')
	ktap_diag "getent on B: $got (D's $VIP4_D); path $(path_of b d.$D) via $relay; dc relayed $(sigbed_jq dc .dc.directions_relayed)"
	[ "$got" = "$VIP4_D" ] && [ -n "$relay" ] && BD=1
	check "B resolves d.ntm.test: the DC relays (both NATed) and the answer is D's vip4" $((1 - BD)) b d dc rs1 rs2
fi
RS_BD=""
if needs "ping B -> D through the relay (direct path blocked); the relay's kernel forwards it" BD; then
	case $(relaybed_peer b d.$D '.path.relay') in
	"$RB_RS1":*) RS_BD=rs1 ;;
	*) RS_BD=rs2 ;;
	esac
	r0=$(num "$(relaybed_relay_rx $RS_BD)")
	sigbed_wait 20 sigbed_in b ping -c1 -W1 "$VIP4_D"
	out=$(sigbed_in b ping -c 5 -i 0.2 -W 2 "$VIP4_D" 2>&1)
	prc=$?
	r1=$(num "$(relaybed_relay_rx $RS_BD)")
	ktap_diag "$(printf '%s' "$out" | tail -n 2 | head -n 1); $RS_BD forwarded $((r1 - r0)) datagrams; path $(path_of b d.$D)"
	ok=1
	[ $prc -eq 0 ] && [ $((r1 - r0)) -ge 10 ] && [ "$(path_of b d.$D)" = relay ] && ok=0
	check "ping B -> D through the relay (direct path blocked); the relay's kernel forwards it ($((r1 - r0)) datagrams)" \
		$ok b d "$RS_BD"
fi
DIRECT=0
if needs "a TCP connection opened while relayed survives the move to the direct path" BD; then
	T=$SB_DIR
	sigbed_in d iperf3 -s -1 -p 5201 >"$T/iperf3-s.log" 2>&1 &
	SB_BGPIDS="$! $SB_BGPIDS"
	sleep 2
	sigbed_in b iperf3 -c "$VIP4_D" -p 5201 -t 45 -b 2M -J >"$T/iperf3-c.json" 2>&1 &
	ipid=$!
	sleep 3
	relaybed_block_direct off
	t_open=$EPOCHSECONDS
	sigbed_wait 40 sh -c "[ \"\$(ip netns exec ${SB_NS[b]} $NTMCTL status -j --socket $(sigbed_sock b) | jq -r '.node.peers[] | select(.fqdn == \"d.$D\") | .path.path')\" = direct ]" && DIRECT=1
	ktap_diag "direct $((EPOCHSECONDS - t_open)) s after the path opened; B's path to D: $(relaybed_peer b d.$D '.path' | jq -c . 2>/dev/null)"
	wait $ipid
	irc=$?
	err=$(jq -r '.error // empty' "$T/iperf3-c.json" 2>/dev/null)
	mbit=$(jq -r '.end.sum_received.bits_per_second // 0 | . / 1e6 | floor' "$T/iperf3-c.json" 2>/dev/null)
	ktap_diag "iperf3 across the switch: exit $irc, ${mbit} Mbit/s received${err:+, error: $err}"
	ok=1
	[ $DIRECT -eq 1 ] && [ $irc -eq 0 ] && [ -z "$err" ] && ok=0
	check "a TCP connection opened while relayed survives the move to the direct path" $ok b d
fi
if needs "once direct, B -> D traffic no longer passes the relay" DIRECT; then
	r0=$(num "$(relaybed_relay_rx $RS_BD)")
	out=$(sigbed_in b ping -c 10 -i 0.2 -W 2 "$VIP4_D" 2>&1)
	prc=$?
	r1=$(num "$(relaybed_relay_rx $RS_BD)")
	ktap_diag "10 pings direct: $(printf '%s' "$out" | tail -n 2 | head -n 1); relay forwarded $((r1 - r0))"
	ok=1
	[ $prc -eq 0 ] && [ $((r1 - r0)) -lt 5 ] && ok=0
	check "once direct, B -> D traffic no longer passes the relay ($((r1 - r0)) datagrams there)" $ok b d
fi
if needs "the direct path breaks: B falls back to the relay and the ping goes on" DIRECT; then
	sigbed_in b ping -n -i 0.2 -W 1 -c 100 "$VIP4_D" >"$SB_DIR/ping-bd.txt" 2>&1 &
	ppid=$!
	sleep 2
	relaybed_block_direct on
	t_block=$EPOCHSECONDS
	sigbed_wait 20 sh -c "[ \"\$(ip netns exec ${SB_NS[b]} $NTMCTL status -j --socket $(sigbed_sock b) | jq -r '.node.peers[] | select(.fqdn == \"d.$D\") | .path.path')\" = relay ]"
	t_fb=$((EPOCHSECONDS - t_block))
	wait $ppid
	recv=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$SB_DIR/ping-bd.txt")
	ktap_diag "back on the relay $t_fb s after the block; ping: $(tail -n 2 "$SB_DIR/ping-bd.txt" | head -n 1)"
	ok=1
	[ "$(path_of b d.$D)" = relay ] && [ "$(num "$recv")" -ge 60 ] && sigbed_in b ping -c 2 -W 2 "$VIP4_D" >/dev/null && ok=0
	relaybed_block_direct off
	check "the direct path breaks: B falls back to the relay in $t_fb s and the ping goes on ($recv of 100)" $ok b d
fi

# --- 11-12: one NAT: the LAN path ---------------------------------------------------------
BE=0
if needs "B and E behind one NAT: relayed first, then direct on their LAN" NODES; then
	got=$(sigbed_getent b ahostsv4 e.$D 2>&1)
	[ "$got" = "$VIP4_E" ] && sigbed_wait 30 sh -c "ip netns exec ${SB_NS[b]} $NTMCTL status -j --socket $(sigbed_sock b) | jq -r '.node.peers[] | select(.fqdn == \"e.$D\") | .path.direct' | grep -q '^$RB_E4:'" && BE=1
	ktap_diag "B -> E: $got; path $(relaybed_peer b e.$D '.path' | jq -c . 2>/dev/null)"
	check "B and E behind one NAT: relayed first, then direct on their LAN ($RB_E4)" $((1 - BE)) b e
fi
if needs "ping B -> E on the LAN path" BE; then
	sigbed_wait 10 sigbed_in b ping -c1 -W1 "$VIP4_E"
	ok=$(rc quiet sigbed_in b ping -c 3 -i 0.3 -W 2 "$VIP4_E")
	if [ "$ok" != 0 ]; then
		ktap_diag "B's tunnels: $(sigbed_tunnels b | tr '\n' ' ')"
		ktap_diag "E's tunnels: $(sigbed_tunnels e | tr '\n' ' ')"
		ktap_diag "B's routes: $(sigbed_in b ip route | tr '\n' ';')"
	fi
	check "ping B -> E on the LAN path" "$ok" b e
fi

# --- 13-15: per-destination NAT: the relay stays ------------------------------------------
BF=0
if needs "B resolves f.ntm.test (F behind a per-destination NAT): relayed" NODES; then
	got=$(sigbed_getent b ahostsv4 f.$D 2>&1)
	[ "$got" = "$VIP4_F" ] && [ -n "$(relaybed_peer b f.$D '.path.relay')" ] && BF=1
	check "B resolves f.ntm.test (F behind a per-destination NAT): relayed" $((1 - BF)) b f dc
fi
if needs "F finds its NAT maps per destination; after 15 s the tunnel is still relayed and carries traffic" BF; then
	sigbed_wait 20 sh -c "[ \"\$(ip netns exec ${SB_NS[f]} $NTMCTL status -j --socket $(sigbed_sock f) | jq -r .node.nat_mapping)\" = per-destination ]"
	mapping=$(sigbed_node f nat_mapping)
	sleep 15
	path_b=$(relaybed_peer b f.$D '.path.path')
	path_f=$(relaybed_peer f b.$D '.path.path')
	case $(relaybed_peer b f.$D '.path.relay') in
	"$RB_RS1":*) rs_bf=rs1 ;;
	*) rs_bf=rs2 ;;
	esac
	r0=$(num "$(relaybed_relay_rx $rs_bf)")
	out=$(sigbed_in b ping -c 5 -i 0.2 -W 2 "$VIP4_F" 2>&1)
	prc=$?
	r1=$(num "$(relaybed_relay_rx $rs_bf)")
	ktap_diag "F: nat_mapping $mapping; paths B $path_b, F $path_f; $(printf '%s' "$out" | tail -n 2 | head -n 1); $rs_bf forwarded $((r1 - r0))"
	ok=1
	[ "$mapping" = per-destination ] && [ "$path_b" = relay ] && [ "$path_f" = relay ] && [ $prc -eq 0 ] &&
		[ $((r1 - r0)) -ge 10 ] && ok=0
	check "F finds its NAT maps per destination; after 15 s the tunnel is still relayed and carries traffic" $ok b f
fi
REBUILT=0
if needs "the relay of B <-> F vanishes under traffic: rebuilt through the other relay" BF; then
	case $(relaybed_peer b f.$D '.path.relay') in
	"$RB_RS1":*) dead=rs1 other=$RB_RS2 ;;
	*) dead=rs2 other=$RB_RS1 ;;
	esac
	sigbed_in b ping -n -i 0.2 -W 1 -c 150 "$VIP4_F" >"$SB_DIR/ping-bf.txt" 2>&1 &
	ppid=$!
	sleep 3
	t_kill=$EPOCHSECONDS
	ip -n "${SB_NS[$dead]}" link set pub0 down
	ktap_diag "$dead ($(relaybed_peer b f.$D '.path.relay')) unplugged"
	sigbed_wait 40 sh -c "ip netns exec ${SB_NS[b]} $NTMCTL status -j --socket $(sigbed_sock b) | jq -r '.node.peers[] | select(.fqdn == \"f.$D\") | .path.relay' | grep -q '^$other:'"
	sigbed_wait 20 sigbed_in b ping -c1 -W1 "$VIP4_F" && REBUILT=1
	t_back=$((EPOCHSECONDS - t_kill))
	kill $ppid 2>/dev/null
	wait $ppid 2>/dev/null
	ktap_diag "B -> F via $(relaybed_peer b f.$D '.path.relay') $t_back s after the unplug; ping: $(tail -n 2 "$SB_DIR/ping-bf.txt" | head -n 1)"
	ip -n "${SB_NS[$dead]}" link set pub0 up
	check "the relay of B <-> F vanishes under traffic: rebuilt through the other relay in $t_back s" \
		$((1 - REBUILT)) b f dc
fi

# --- 15-16: bookkeeping ---------------------------------------------------------------
out=$(for n in rs1 rs2; do sigbed_jq $n '.rs | {communications, kernel_sessions, forwarded, binds, drops}' | jq -c --arg n $n '{($n): .}'; done)
ktap_diag "relays: $(printf '%s' "$out" | tr '\n' ' ')"
check "every ntmd is still running" \
	"$(rc sh -c 'for p in '"${SB_PID[*]}"'; do kill -0 $p || exit 1; done')"
check "no kernel warning, oops or leak report" "$(rc sh -c '! dmesg | grep -E "WARNING:|BUG:|Oops|unreferenced object"')"
ktap_finish
